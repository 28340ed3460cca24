// polyctl cancel ID
#include <memory>

#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"

namespace polytrain {
namespace {

int RunCancel(const std::string& id, CoordinatorClient& client) {
  polytrain::v1::CancelJobRequest request;
  request.set_id(id);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::CancelJob, request);
  if (!job.ok()) return command_support::Fail(job.status());
  PrintJob(*job);
  return kExitOk;
}

}  // namespace

Command AddCancelCommand(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a queued, running or paused job.");
  cancel->add_option("id", *id, "job id")->required();
  return {cancel, [id](CoordinatorClient& client) { return RunCancel(*id, client); }};
}

}  // namespace polytrain
