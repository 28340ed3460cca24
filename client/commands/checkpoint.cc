// polyctl checkpoint ID [--output FILE] [--best]: a job's trained model, its newest stored
// checkpoint or its best by spec.checkpoint.keep_best_by.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "common/chunked_file.h"

namespace polytrain {
namespace {

struct CheckpointOptions {
  std::string id, output;
  bool best = false;
};

// "best": the refusal names the request's field; to a user, the flag.
absl::Status AsFlag(const absl::Status& status) {
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, "best: ")) return status;
  return absl::Status(status.code(), absl::StrCat("--best: ", message));
}

int RunCheckpoint(const CheckpointOptions& options, CoordinatorClient& client) {
  const std::string path = options.output.empty() ? options.id + ".pt" : options.output;
  absl::StatusOr<polytrain::v1::CheckpointChunk> first =
      client.DownloadCheckpoint(options.id, path, options.best);
  if (!first.ok()) {
    // A full disk here is this machine's: the file it was written to is named (probe CG).
    if (IsDiskFull(first.status())) {
      return command_support::Fail(
          absl::ResourceExhaustedError(absl::StrCat(path, ": ", first.status().message())));
    }
    return command_support::Fail(AsFlag(first.status()));
  }
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path, error);
  for (const std::string& why : first->passed_over()) {
    std::cerr << "polyctl: warning: " << options.id
              << ": a newer checkpoint is damaged or missing on "
              << "the coordinator and was passed over (" << why << ")\n";
  }
  // A job that trained past its newest stored checkpoint (later uploads failed: a full disk on
  // the coordinator) gets this one, said to be older than the job: never silently.
  polytrain::v1::GetJobRequest get;
  get.set_id(options.id);
  absl::StatusOr<polytrain::v1::Job> job =
      client.Call(&polytrain::v1::Coordinator::Stub::GetJob, get);
  if (job.ok() && !options.best && job->state() == polytrain::v1::JOB_STATE_SUCCEEDED &&
      job->steps() > first->step()) {
    std::cerr << "polyctl: warning: " << options.id << " trained " << job->steps()
              << " steps; the newest checkpoint the coordinator holds is step " << first->step()
              << "'s (the later ones were not stored: the coordinator's and the worker's logs "
                 "say why)\n";
  }
  std::string score;
  if (options.best && job.ok() && job->best_checkpoint().step() == first->step()) {
    score = absl::StrCat(", the best by ", job->best_checkpoint().metric(), ": ",
                         Fixed(job->best_checkpoint().value()));
  }
  std::cerr << "polyctl: " << options.id << ": " << first->name() << " (step " << first->step()
            << score << ", " << (error ? 0 : bytes) << " bytes"
            << (first->passed_over().empty() ? "" : ", not the newest: see the warning")
            << ") written to " << path << "\n";
  std::cout << path << std::endl;
  return kExitOk;
}

}  // namespace

Command AddCheckpointCommand(CLI::App& app) {
  auto options = std::make_shared<CheckpointOptions>();
  CLI::App* checkpoint = app.add_subcommand(
      "checkpoint",
      "Download a job's trained model: its newest stored checkpoint, or with --best its best by "
      "spec.checkpoint.keep_best_by (LibTorch's archive of the "
      "model's weights, the optimizer and the position; in Python, "
      "torch.jit.load(FILE).model.state_dict() are a built-in model's weights, "
      "dict(torch.jit.load(FILE).model.state) a TorchScript model's).");
  checkpoint->add_option("id", options->id, "job id")->required();
  checkpoint
      ->add_option("--output,-o", options->output,
                   "file to write (default ID.pt; an existing file is refused; its directory "
                   "must exist)")
      ->check([](const std::string& value) {
        if (value.empty()) return std::string("must not be empty");
        // "-" would be a file of that name, where the convention reads stdout (probe CJ).
        if (value == "-") return std::string("a file to write, not stdout ('-'): name a file");
        return std::string();
      });
  checkpoint->add_flag("--best", options->best,
                       "the job's best checkpoint by its spec.checkpoint.keep_best_by (an "
                       "evaluation metric, e.g. val_accuracy) instead of its newest");
  return {checkpoint,
          [options](CoordinatorClient& client) { return RunCheckpoint(*options, client); }};
}

}  // namespace polytrain
