// polyctl metrics ID [--format csv|json] [--max-points N]: a job's metric history for notebooks.
#include <memory>

#include "api/limits.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"

namespace polytrain {
namespace {

struct MetricsOptions {
  std::string id, format = "csv";
  int max_points = 0;
};

int RunMetrics(const MetricsOptions& options, CoordinatorClient& client) {
  polytrain::v1::GetMetricsRequest request;
  request.set_job_id(options.id);
  request.set_max_points(options.max_points);
  absl::StatusOr<polytrain::v1::GetMetricsResponse> response =
      client.Call(&polytrain::v1::Coordinator::Stub::GetMetrics, request);
  if (!response.ok()) return command_support::Fail(response.status());
  PrintMetrics(*response, options.format);
  return kExitOk;
}

}  // namespace

Command AddMetricsCommand(CLI::App& app) {
  auto options = std::make_shared<MetricsOptions>();
  CLI::App* metrics = app.add_subcommand("metrics", "A job's metric history for notebooks.");
  metrics->add_option("id", options->id, "job id")->required();
  metrics->add_option("--format", options->format, "csv or json")
      ->transform(CLI::IsMember({"csv", "json"}, CLI::ignore_case))
      ->capture_default_str();
  metrics
      ->add_option("--max-points", options->max_points,
                   "at most this many points, evenly spaced over the history and always with the "
                   "newest (0: all)")
      ->check(IntegerRange(0, kMaxRequestedMetricPoints))
      ->capture_default_str();
  return {metrics, [options](CoordinatorClient& client) { return RunMetrics(*options, client); }};
}

}  // namespace polytrain
