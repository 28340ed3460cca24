// polyctl watch ID|SWEEP_ID: follow a job (or each job of a sweep) until it ends.
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

int RunWatch(const std::string& id, CoordinatorClient& client) {
  if (!absl::StartsWith(id, kSweepIdPrefix)) {
    absl::StatusOr<polytrain::v1::Job> final = Follow(client, id, /*quiet=*/false);
    return final.ok() ? OutcomeExit(*final) : Fail(final.status());
  }
  // A sweep: each of its jobs in submission order.
  polytrain::v1::ListJobsRequest request;
  (*request.mutable_labels())[kSweepLabel] = id;
  request.set_page_size(kMaxPageSize);
  absl::StatusOr<polytrain::v1::ListJobsResponse> jobs =
      client.Call(&polytrain::v1::Coordinator::Stub::ListJobs, request);
  if (!jobs.ok()) return Fail(jobs.status());
  if (jobs->jobs().empty()) return Fail(absl::NotFoundError(absl::StrCat("no jobs in sweep ", id)));
  int outcome = kExitOk;
  for (auto it = jobs->jobs().rbegin(); it != jobs->jobs().rend(); ++it) {
    absl::StatusOr<polytrain::v1::Job> final = Follow(client, it->id(), /*quiet=*/false);
    if (!final.ok()) return Fail(final.status());
    if (OutcomeExit(*final) != kExitOk) outcome = kExitJobFailed;
  }
  return outcome;
}

}  // namespace

Command AddWatchCommand(CLI::App& app) {
  auto id = std::make_shared<std::string>();
  CLI::App* watch = app.add_subcommand(
      "watch", "Follow a job (or each job of a sweep) until it ends; exits with its outcome.");
  watch->add_option("id", *id, "job id, or a sweep id for each of its jobs")->required();
  return {watch, [id](CoordinatorClient& client) { return RunWatch(*id, client); }};
}

}  // namespace polytrain
