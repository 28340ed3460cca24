// polyctl watch ID|SWEEP_ID: follow a job (or each job of a sweep) until it ends.
#include <cstdio>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

// How often a search is asked how it stands (as `search --watch` does by default).
constexpr double kSweepPollSeconds = 1.0;

int RunWatch(const std::string& id, CoordinatorClient& client) {
  if (!absl::StartsWith(id, kSweepIdPrefix)) {
    absl::StatusOr<polytrain::v1::Job> final = Follow(client, id, /*quiet=*/false);
    return final.ok() ? OutcomeExit(*final) : Fail(final.status());
  }
  // A search: its rungs and ranking until it is done (trials pause, stop and are re-run; the
  // final re-runs do not exist yet while it runs).
  polytrain::v1::GetSweepRequest get;
  get.set_id(id);
  absl::StatusOr<polytrain::v1::Sweep> sweep =
      client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, get);
  if (!sweep.ok()) return Fail(sweep.status());
  if (sweep->request().has_search()) return WatchSweep(client, id, kSweepPollSeconds);
  // A sweep: each of its jobs in submission order.
  polytrain::v1::ListJobsRequest request;
  (*request.mutable_labels())[kSweepLabel] = id;
  request.set_page_size(kMaxPageSize);
  absl::StatusOr<polytrain::v1::ListJobsResponse> jobs =
      client.Call(&polytrain::v1::Coordinator::Stub::ListJobs, request);
  if (!jobs.ok()) return Fail(jobs.status());
  if (jobs->jobs().empty()) return Fail(absl::NotFoundError(absl::StrCat("no jobs in sweep ", id)));
  int outcome = kExitOk;
  int index = 0;
  for (auto it = jobs->jobs().rbegin(); it != jobs->jobs().rend(); ++it) {
    // Each job's lines under its name: an ended job's own state line comes after its metrics.
    std::printf("== %s %s (job %d of %d)\n", it->id().c_str(), it->spec().name().c_str(), ++index,
                jobs->jobs_size());
    absl::StatusOr<polytrain::v1::Job> final = Follow(client, it->id(), /*quiet=*/false);
    if (!final.ok()) return Fail(final.status());
    if (OutcomeExit(*final) != kExitOk) outcome = kExitJobFailed;
  }
  return outcome;
}

}  // namespace

Command AddWatchCommand(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* watch = app.add_subcommand("watch",
                                       "Follow a job (or each job of a sweep, or a search's rungs) "
                                       "until it ends; exits with its outcome.");
  watch->add_option("id", *id, "job id, or a sweep id for each of its jobs")->required();
  return {watch, [id](CoordinatorClient& client) { return RunWatch(*id, client); }};
}

}  // namespace polytrain
