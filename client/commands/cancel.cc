// polyctl cancel ID|SWEEP_ID
#include <iostream>
#include <memory>

#include "absl/strings/match.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "client/sweep_output.h"

namespace polytrain {
namespace {

// A sweep: every job of it that had not ended, and a search decides nothing more.
int RunCancelSweep(const std::string& id, CoordinatorClient& client) {
  polytrain::v1::CancelSweepRequest request;
  request.set_id(id);
  absl::StatusOr<polytrain::v1::Sweep> sweep =
      client.Call(&polytrain::v1::Coordinator::Stub::CancelSweep, request);
  if (!sweep.ok()) {
    return command_support::Fail(command_support::MayHaveBeenDone(
        sweep.status(), client, "cancelled " + id, "polyctl get " + id));
  }
  std::cout << SweepText(*sweep, /*max_trials=*/10);
  return kExitOk;
}

int RunCancel(const std::string& id, CoordinatorClient& client) {
  if (absl::StartsWith(id, kSweepIdPrefix)) return RunCancelSweep(id, client);
  polytrain::v1::CancelJobRequest request;
  request.set_id(id);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::CancelJob, request);
  if (!job.ok()) {
    return command_support::Fail(command_support::MayHaveBeenDone(
        job.status(), client, "cancelled " + id, "polyctl get " + id));
  }
  PrintJob(*job);
  return kExitOk;
}

}  // namespace

Command AddCancelCommand(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* cancel = app.add_subcommand(
      "cancel",
      "Cancel a queued, running or paused job, or a whole sweep (each of its jobs that has not "
      "ended; a search starts nothing more).");
  cancel->add_option("id", *id, "job id, or a sweep id")->required();
  return {cancel, [id](CoordinatorClient& client) { return RunCancel(*id, client); }};
}

}  // namespace polytrain
