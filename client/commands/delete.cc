// polyctl delete ID|SWEEP_ID...
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/job_states.h"
#include "api/limits.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/sweep_output.h"

namespace polytrain {
namespace {

// A sweep with its jobs.
absl::Status DeleteSweep(const std::string& id, CoordinatorClient& client) {
  polytrain::v1::DeleteSweepRequest request;
  request.set_id(id);
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> deleted =
      client.Call(&polytrain::v1::Coordinator::Stub::DeleteSweep, request);
  if (!deleted.ok()) {
    return command_support::MayHaveBeenDone(deleted.status(), client, "deleted " + id,
                                            "polyctl get " + id);
  }
  std::cout << absl::StrCat(
      id, ": deleted (", SweepStateName(deleted->deleted().state()), "; ", deleted->jobs(),
      " jobs, ", deleted->metric_points(), " metric points, ", deleted->checkpoint_files(),
      deleted->checkpoint_files() == 1 ? " checkpoint file)\n" : " checkpoint files)\n");
  return absl::OkStatus();
}

absl::Status DeleteJob(const std::string& id, CoordinatorClient& client) {
  polytrain::v1::DeleteJobRequest request;
  request.set_id(id);
  absl::StatusOr<polytrain::v1::DeleteJobResponse> deleted =
      client.Call(&polytrain::v1::Coordinator::Stub::DeleteJob, request);
  if (!deleted.ok()) {
    return command_support::MayHaveBeenDone(deleted.status(), client, "deleted " + id,
                                            "polyctl get " + id);
  }
  std::cout << absl::StrCat(
      id, " ", deleted->deleted().spec().name(), ": deleted (",
      JobStateWord(deleted->deleted().state()), "; ", deleted->metric_points(), " metric points, ",
      deleted->checkpoint_files(),
      deleted->checkpoint_files() == 1 ? " checkpoint file)\n" : " checkpoint files)\n");
  return absl::OkStatus();
}

// Each job or sweep in turn, so that one still running does not keep a clean-up from the rest:
// a refusal is said on stderr and the command goes on; it exits with the first refusal's code.
// A coordinator out of reach (or too slow to answer) ends it at once.
int RunDelete(const std::vector<std::string>& ids, CoordinatorClient& client) {
  int exit = kExitOk;
  for (const std::string& id : ids) {
    const absl::Status deleted =
        absl::StartsWith(id, kSweepIdPrefix) ? DeleteSweep(id, client) : DeleteJob(id, client);
    if (deleted.ok()) continue;
    const int code = command_support::Fail(deleted);
    if (absl::IsUnavailable(deleted) || absl::IsDeadlineExceeded(deleted)) return code;
    if (exit == kExitOk) exit = code;
  }
  return exit;
}

}  // namespace

Command AddDeleteCommand(CLI::App& app) {
  auto ids = std::make_shared<std::vector<std::string>>();
  CLI::App* remove = app.add_subcommand(
      "delete",
      "Delete ended jobs for good (each one's record, metric history and stored checkpoints), or "
      "ended sweeps with all their jobs.");
  remove->footer(absl::StrCat(
      "A job queued, running or paused is refused (exit 5: cancel it first), as is a trial of a "
      "search still running, and a sweep that runs or has a job not ended (polyctl cancel "
      "SWEEP_ID, then wait for its jobs). Each id is tried in turn: a refusal is said on stderr "
      "and the rest are still deleted; the exit code is the first refusal's. Keeps a "
      "long-lived coordinator's database and artifacts bounded; the files a job named that you "
      "uploaded stay (polyctl artifacts delete).\n",
      app.get_footer()));
  remove->add_option("ids", *ids, "job ids or sweep ids")->required();
  return {remove, [ids](CoordinatorClient& client) { return RunDelete(*ids, client); }};
}

}  // namespace polytrain
