#include "worker/standalone_run.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "common/flag_directory.h"
#include "common/proto_file.h"
#include "polytrain/v1/job.pb.h"
#include "worker/checkpoint_files.h"
#include "worker/metric_sink.h"
#include "worker/run_summary.h"
#include "worker/standalone_stop.h"
#include "worker/worker_exit.h"

namespace polytrain {
namespace {

using worker_exit::Fail;
using worker_exit::kTool;

}  // namespace

int RunStandalone(StandaloneRun run) {
  const std::string& spec_path = run.spec_path;
  const std::string& metrics_out = run.metrics_out;
  const std::string& checkpoint_dir = run.checkpoint_dir;
  TrainerOptions& options = run.options;
  options.checkpoint_dir = checkpoint_dir;
  options.keep_best_checkpoint = true;  // spec.checkpoint.keep_best_by's, beside the newest

  polytrain::v1::JobSpec spec;
  if (absl::Status s = ReadProtoFile(spec_path, &spec); !s.ok()) return Fail(kExitInvalid, s);
  // The time limit counts from here, data loading included, as an attempt's does in the service.
  StandaloneStop stop(spec.time_limit_seconds(), [&spec] {
    std::cerr << kTool << ": ran past spec.time_limit_seconds (" << spec.time_limit_seconds()
              << " s) and did not stop within " << kStuckSeconds
              << " s of its cancel (stuck in the model's code or in reading a file); ended"
              << std::endl;
    std::_Exit(kExitJobFailed);
  });
  // A resumed run's --metrics_out keeps the points up to its checkpoint, as the service's store.
  std::unique_ptr<JsonLinesMetricSink> jsonl;
  options.on_start = [&jsonl, resume = options.resume](int64_t resumed_from_step) {
    if (jsonl == nullptr || !resume) return;
    if (absl::Status s = jsonl->ResumeAt(resumed_from_step); !s.ok()) {
      std::cerr << kTool << ": --metrics_out: " << s.message() << "\n";
    }
  };
  // After the signal handlers: a child loading first exists only once SIGINT reaches `stop`.
  run.enable_load_probe();
  options.cancel = stop.cancel();
  options.release = stop.release();
  // A run ended by its time limit or a signal says so, whether it was loading or training.
  auto fail_run = [&spec, &stop, &checkpoint_dir](const absl::Status& status, bool loading) {
    if (stop.time_limit_passed()) {
      return Fail(kExitJobFailed, absl::DeadlineExceededError(absl::StrCat(
                                      "ran past spec.time_limit_seconds (",
                                      spec.time_limit_seconds(), " s): ", status.message())));
    }
    if (!stop.signal_name().empty()) {
      return Fail(kExitJobFailed,
                  absl::CancelledError(absl::StrCat(
                      "stopped by ", stop.signal_name(), ": ", status.message(),
                      loading                  ? "; nothing to save (it had not started training)"
                      : checkpoint_dir.empty() ? "; nothing saved (no --checkpoint_dir)"
                                               : "")));
    }
    return Fail(ExitCodeFor(status), status);
  };
  // Everything is validated and loaded before anything is written.
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, options);
  if (!trainer.ok()) return fail_run(trainer.status(), /*loading=*/true);
  // What this run makes, it takes away again if it fails before writing anything there: a
  // failed run leaves no empty checkpoint directory or metrics file that looks like a result.
  // A name that exists in any form (a dangling link included) is the user's, never removed.
  auto absent = [](const std::string& path) {
    std::error_code error;  // set for a missing name too: the type tells
    return !path.empty() && std::filesystem::symlink_status(path, error).type() ==
                                std::filesystem::file_type::not_found;
  };
  const bool checkpoint_dir_made = absent(checkpoint_dir);
  const bool metrics_out_made = absent(metrics_out);
  auto tidy = [&](int code) {
    std::error_code error;
    if (metrics_out_made && std::filesystem::is_regular_file(metrics_out, error) &&
        std::filesystem::file_size(metrics_out, error) == 0 && !error) {
      std::filesystem::remove(metrics_out, error);
    }
    if (checkpoint_dir_made && std::filesystem::is_empty(checkpoint_dir, error) && !error) {
      std::filesystem::remove(checkpoint_dir, error);
    }
    return code;
  };
  // Tried before the first step, not at the first checkpoint after hours of training.
  if (!checkpoint_dir.empty()) {
    if (absl::Status s = PrepareFlagDirectory("--checkpoint_dir", checkpoint_dir); !s.ok()) {
      return Fail(kExitInvalid, s);
    }
  }
  // Not an error (a script may always pass --resume), but said: a typo in the directory would
  // otherwise start the run over without a word.
  if (options.resume && ListCheckpoints(checkpoint_dir).empty()) {
    std::cerr << kTool << ": --resume: no checkpoint in " << checkpoint_dir
              << " yet; starting from step 0\n";
  }

  if (!metrics_out.empty()) {
    absl::StatusOr<std::unique_ptr<JsonLinesMetricSink>> sink =
        JsonLinesMetricSink::Create(metrics_out, options.resume);
    if (!sink.ok()) {
      return tidy(Fail(kExitInvalid, absl::InvalidArgumentError(
                                         absl::StrCat("--metrics_out ", sink.status().message()))));
    }
    jsonl = *std::move(sink);
  }
  ProgressMetricSink progress(stderr, (*trainer)->total_steps());
  std::vector<MetricSink*> sinks;
  if (jsonl) sinks.push_back(jsonl.get());
  if (!run.quiet) sinks.push_back(&progress);
  FanoutMetricSink fanout(sinks);
  (*trainer)->set_sink(&fanout);

  if (!run.quiet) std::cerr << "job " << spec.name() << ": " << (*trainer)->Describe() << "\n";
  absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
  if (!summary.ok()) return tidy(fail_run(summary.status(), /*loading=*/false));
  for (const std::string& why : summary->passed_over_checkpoints) {
    std::cerr << kTool << ": passed over " << why << " (set aside as .corrupt)\n";
  }

  const std::string ended = summary->released        ? "stopped by " + stop.signal_name()
                            : summary->stopped_early ? "stopped"
                                                     : "finished";
  PrintRunSummary(stdout, spec.name(), ended, *summary, (*trainer)->steps_per_epoch(),
                  run.allocator);
  if (summary->released) {
    std::cerr << kTool << ": stopped by " << stop.signal_name() << " at step " << summary->steps
              << (summary->last_checkpoint.empty()
                      ? " before training; nothing to save"
                      : "; run again with --resume to continue from the checkpoint")
              << "\n";
    return kExitJobFailed;
  }
  return 0;
}

}  // namespace polytrain
