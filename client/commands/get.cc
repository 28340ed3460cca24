// polyctl get ID [--format text|json]: a job, or (ID "sweep-...") a sweep with its search
#include <iostream>
#include <memory>

#include "absl/strings/match.h"
#include "api/limits.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "client/sweep_output.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

struct GetOptions {
  std::string id, format = "text";
};

int RunGetSweep(const GetOptions& options, CoordinatorClient& client) {
  polytrain::v1::GetSweepRequest request;
  request.set_id(options.id);
  absl::StatusOr<polytrain::v1::Sweep> sweep =
      client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, request);
  if (!sweep.ok()) return command_support::Fail(sweep.status());
  std::cout << (options.format == "json" ? ToJson(*sweep, /*include_defaults=*/true) + "\n"
                                         : SweepText(*sweep));
  return kExitOk;
}

int RunGet(const GetOptions& options, CoordinatorClient& client) {
  if (absl::StartsWith(options.id, kSweepIdPrefix)) return RunGetSweep(options, client);
  polytrain::v1::GetJobRequest request;
  request.set_id(options.id);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::GetJob, request);
  if (!job.ok()) return command_support::Fail(job.status());
  if (options.format == "json") {
    std::cout << ToJson(*job, /*include_defaults=*/true) << "\n";
  } else {
    PrintJob(*job);
    if (job->state() == polytrain::v1::JOB_STATE_RUNNING) {  // where it is now (probe CE)
      polytrain::v1::GetMetricsRequest newest;
      newest.set_job_id(job->id());
      newest.set_max_points(1);
      absl::StatusOr<polytrain::v1::GetMetricsResponse> points =
          client.Call(&polytrain::v1::Coordinator::Stub::GetMetrics, newest);
      if (points.ok()) {  // the job's record was shown; its progress is a bonus
        PrintLatestPoint(*job, points->points().empty() ? nullptr : &*points->points().rbegin());
      }
    }
  }
  return kExitOk;
}

}  // namespace

Command AddGetCommand(CLI::App& app) {
  auto options = std::make_shared<GetOptions>();
  CLI::App* get = app.add_subcommand(
      "get", "Show one job, or a sweep: its search, rungs, trials and the ranking of its losses.");
  get->add_option("id", options->id, "job id, or sweep id (sweep-...)")->required();
  get->add_option("--format", options->format, "text (also: table) or json")
      ->transform(CLI::IsMember({"table", "text", "json"}, CLI::ignore_case))
      ->capture_default_str();
  return {get, [options](CoordinatorClient& client) { return RunGet(*options, client); }};
}

}  // namespace polytrain
