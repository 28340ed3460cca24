#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"

namespace polytrain::command_support {

int Fail(const absl::Status& status) { return ExitWithError("polyctl", status); }

absl::Status ApplyLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>* into) {
  for (const std::string& label : labels) {
    const std::vector<std::string> kv = absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: expected KEY=VALUE, got '", label, "'"));
    }
    (*into)[kv[0]] = kv[1];
  }
  return absl::OkStatus();
}

int OutcomeExit(const polytrain::v1::Job& job) {
  return job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitJobFailed;
}

absl::StatusOr<polytrain::v1::Job> Follow(CoordinatorClient& client, const std::string& job_id,
                                          bool quiet) {
  WatchPrinter printer(isatty(fileno(stdout)) != 0);
  return client.Watch(job_id, [&](const polytrain::v1::JobEvent& event) {
    if (!quiet) printer.Print(event);
  });
}

}  // namespace polytrain::command_support
