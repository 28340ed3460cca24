#include "worker/run_summary.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polytrain {

void PrintRunSummary(std::FILE* out, const std::string& job_name, const std::string& ended,
                     const TrainingSummary& summary, int64_t steps_per_epoch,
                     const std::string& allocator) {
  // Epochs as trained, from the start (a resumed run's too).
  const int64_t whole =
      steps_per_epoch > 0 ? summary.steps / steps_per_epoch : summary.epochs_completed;
  const std::string epochs =
      steps_per_epoch > 0 && summary.steps % steps_per_epoch != 0
          ? absl::StrFormat("%.2f epochs", static_cast<double>(summary.steps) / steps_per_epoch)
          : absl::StrCat(whole, whole == 1 ? " epoch" : " epochs");
  std::fprintf(out, "job %s %s after %lld/%lld steps (%s) in %.1f s%s\n", job_name.c_str(),
               ended.c_str(), static_cast<long long>(summary.steps),
               static_cast<long long>(summary.total_steps), epochs.c_str(), summary.seconds,
               summary.resumed ? " (resumed from a checkpoint)" : "");
  if (summary.trained_samples > 0) {
    std::fprintf(out, "  train throughput %.0f samples/s (%s)\n", summary.samples_per_second,
                 allocator.c_str());
  } else {
    std::fprintf(out, "  train throughput none (no step trained)\n");
  }
  // A run stopped between evaluations shows its last one, and says from when.
  if (!summary.final_metrics.empty() && summary.final_metrics_step != summary.steps) {
    std::fprintf(out, "  %-16s step %lld (the last before the stop)\n", "evaluated at",
                 static_cast<long long>(summary.final_metrics_step));
  }
  // Multi-label data adds exact_match and f1 (worker/multi_label.h).
  for (const char* key : {"eval_loss", "eval_nll", "eval_accuracy", "eval_exact_match", "eval_f1",
                          "eval_ece", "val_accuracy"}) {
    auto it = summary.final_metrics.find(key);
    if (it != summary.final_metrics.end()) std::fprintf(out, "  %-16s %.4f\n", key, it->second);
  }
  if (!summary.last_checkpoint.empty()) {
    std::fprintf(out, "  checkpoint       %s\n", summary.last_checkpoint.c_str());
  }
  if (const polytrain::v1::BestCheckpoint& best = summary.best_checkpoint; !best.path().empty()) {
    std::fprintf(out, "  best checkpoint  %s (step %lld, %s %.4f)\n", best.path().c_str(),
                 static_cast<long long>(best.step()), best.metric().c_str(), best.value());
  }
}

}  // namespace polytrain
