// polyctl's subcommands that talk to a coordinator, one file each with its own options. Each
// Add...Command adds its subcommand to `app` and returns how to run it once the command line is
// parsed (after the connection flags, which may follow the subcommand, are known).
#ifndef POLYTRAIN_CLIENT_COMMANDS_COMMANDS_H_
#define POLYTRAIN_CLIENT_COMMANDS_COMMANDS_H_

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "client/coordinator_client.h"

namespace polytrain {

struct Command {
  CLI::App* app = nullptr;  // run when this subcommand was given
  std::function<int(CoordinatorClient& client)> run;
};

Command AddSubmitCommand(CLI::App& app);
Command AddSweepCommand(CLI::App& app);
Command AddSearchCommand(CLI::App& app);
Command AddListCommand(CLI::App& app);
Command AddGetCommand(CLI::App& app);
Command AddCancelCommand(CLI::App& app);
Command AddDeleteCommand(CLI::App& app);
Command AddSweepsCommand(CLI::App& app);
Command AddWatchCommand(CLI::App& app);
Command AddCompareCommand(CLI::App& app);
Command AddMetricsCommand(CLI::App& app);
Command AddCheckpointCommand(CLI::App& app);
Command AddUploadCommand(CLI::App& app);
Command AddArtifactsCommand(CLI::App& app);

// What the commands share.
namespace command_support {

// "polyctl: <message>" on stderr; the exit code of the table (cli/exit_codes.h).
int Fail(const absl::Status& status);
// A change asked of the coordinator (`done`: "cancelled job-x", "deleted sweep-y") whose call
// failed UNAVAILABLE or DEADLINE_EXCEEDED after the coordinator was reached: said to have perhaps
// been made, with how to tell (`check`: a polyctl command). Any other status is returned as is.
absl::Status MayHaveBeenDone(absl::Status status, const CoordinatorClient& client,
                             const std::string& done, const std::string& check);
// The JobSpec in the spec file at `path` (ReadProtoFile); a file that holds a whole Job (as
// polyctl get --format json prints it) is said to be one, pointing at its "spec".
absl::Status ReadJobSpecFile(const std::string& path, polytrain::v1::JobSpec* spec);
// KEY=VALUE pairs (--label) into a label map.
absl::Status ApplyLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>* into);
// --set FIELD=VALUE (repeatable) of submit, sweep and search: fields of the spec file's JobSpec
// replaced (client/spec_setting.h), before the named flags (--loss, --seed, ...) apply.
void AddSetFlag(CLI::App* command, std::vector<std::string>* settings);
// kExitOk for a job that succeeded or a search stopped at a rung, kExitJobFailed otherwise.
int OutcomeExit(const polytrain::v1::Job& job);
// Uploads every file `spec` names by a path (the model's and the dataset's) that exists here
// under `files_dir`, and names it by its artifact instead; a path that does not exist here is
// left for the worker's data root. Says what it uploaded on stderr; a dry run uploads nothing
// and says what it would upload, and what goes as a worker's path.
absl::Status UploadLocalFiles(CoordinatorClient& client, const std::string& files_dir,
                              polytrain::v1::JobSpec* spec, bool dry_run = false);
// --files DIR of submit and sweep: where UploadLocalFiles looks (default: the spec file's
// directory), and --no-upload.
// --dry-run too: the coordinator checks the request (validate_only) and nothing is uploaded or
// stored.
struct UploadFlags {
  std::string files_dir;
  bool no_upload = false;
  bool dry_run = false;
};
void AddUploadFlags(CLI::App* command, UploadFlags* flags);
// Readies a submit, sweep or search of the spec read from `spec_file` as the flags say: the
// request goes to the coordinator with validate_only first where files would be uploaded or
// --dry-run asks (so that what the coordinator alone checks, such as the artifacts a spec names by
// id, refuses it before anything is uploaded), then the files are uploaded (UploadLocalFiles). A
// request whose --request-id names one "submitted with another spec" is asked again with the
// files named by their sha256: a retry of a call that uploaded them, whose stored request it
// then is, with nothing uploaded again. Returns true when the command is done: a dry run, the
// jobs it would queue (or those the request id names) printed on stdout.
absl::StatusOr<bool> PrepareSubmit(CoordinatorClient& client, const UploadFlags& flags,
                                   const std::string& spec_file,
                                   polytrain::v1::SubmitJobRequest* request);
absl::StatusOr<bool> PrepareSubmit(CoordinatorClient& client, const UploadFlags& flags,
                                   const std::string& spec_file,
                                   polytrain::v1::SubmitSweepRequest* request);
// Follows a search (a sweep with a LossSearch) until it is done, asking every `poll_seconds`: on a
// terminal its table redrawn as it changes, otherwise a line per change of its rung table, then
// the table. kExitOk once it has a best loss, kExitJobFailed when none of its runs succeeded or
// it was cancelled.
int WatchSweep(CoordinatorClient& client, const std::string& id, double poll_seconds);
// Follows the job until it ends, printing its events unless `quiet` (a progress line on a
// terminal); returns the job as it ended.
absl::StatusOr<polytrain::v1::Job> Follow(CoordinatorClient& client, const std::string& job_id,
                                          bool quiet);

}  // namespace command_support
}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_COMMANDS_COMMANDS_H_
