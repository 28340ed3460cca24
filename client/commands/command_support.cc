#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "common/proto_file.h"

namespace polytrain::command_support {

int Fail(const absl::Status& status) { return ExitWithError("polyctl", status); }

absl::Status MayHaveBeenDone(absl::Status status, const CoordinatorClient& client,
                             const std::string& done, const std::string& check) {
  if (!client.reached()) return status;
  if (absl::IsUnavailable(status)) {
    return absl::UnavailableError(absl::StrCat(status.message(), "; it may have ", done,
                                               " before it went: `", check,
                                               "` tells once it is back"));
  }
  if (absl::IsDeadlineExceeded(status)) {  // reached, but slow to answer
    return absl::DeadlineExceededError(
        absl::StrCat("the coordinator at ", client.address(), " did not answer in time (",
                     status.message(), "); it may have ", done, " meanwhile: `", check, "` tells"));
  }
  return status;
}

absl::Status ReadJobSpecFile(const std::string& path, polytrain::v1::JobSpec* spec) {
  absl::Status read = ReadProtoFile(path, spec);
  if (read.ok() || read.code() != absl::StatusCode::kInvalidArgument) return read;
  // A job's record saved to resubmit it (probe DH: "end_time: no such field" said nothing).
  polytrain::v1::Job job;
  if (ReadProtoFile(path, &job).ok() && job.has_spec()) {
    return absl::InvalidArgumentError(
        absl::StrCat(read.message(),
                     " (the file holds a whole Job, as polyctl get --format json "
                     "prints it: its \"spec\" is the JobSpec to give)"));
  }
  return read;
}

absl::Status ApplyLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>* into) {
  std::set<std::string> given;
  for (const std::string& label : labels) {
    const std::vector<std::string> kv = absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: expected KEY=VALUE, got '", label, "'"));
    }
    // As a spec file's duplicate key is refused: the second value silently won. (A label the
    // spec file set is replaced: the flag is the later word.)
    if (!given.insert(kv[0]).second) {
      return absl::InvalidArgumentError(absl::StrCat("--label: key '", kv[0], "' given twice"));
    }
    (*into)[kv[0]] = kv[1];
  }
  return absl::OkStatus();
}

void AddSetFlag(CLI::App* command, std::vector<std::string>* settings) {
  command->add_option("--set", *settings,
                      "replace one field of the spec: FIELD=VALUE, FIELD a dotted path of "
                      "JobSpec's fields and VALUE in protobuf text format, e.g. --set "
                      "batch_size=256 --set optimizer.learning_rate=0.05 --set "
                      "'model.mlp.hidden=[256, 128]' (repeatable; a list or message is replaced "
                      "whole)");
}

int OutcomeExit(const polytrain::v1::Job& job) {
  // A search trial stopped at a rung ended as its search meant it to: not a failure.
  return job.state() == polytrain::v1::JOB_STATE_SUCCEEDED ||
                 job.state() == polytrain::v1::JOB_STATE_STOPPED
             ? kExitOk
             : kExitJobFailed;
}

absl::StatusOr<polytrain::v1::Job> Follow(CoordinatorClient& client, const std::string& job_id,
                                          bool quiet) {
  WatchPrinter printer(isatty(fileno(stdout)) != 0);
  absl::StatusOr<polytrain::v1::Job> final =
      client.Watch(job_id, [&](const polytrain::v1::JobEvent& event) {
        if (!quiet) printer.Print(event);
      });
  if (!quiet) printer.Finish();
  return final;
}

}  // namespace polytrain::command_support
