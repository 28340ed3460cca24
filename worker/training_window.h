// A logging window of a training run: the steps between two metric points. Its summed loss and
// correct predictions stay on the training device and are read when the window closes, so on a
// GPU no step waits for them. Data-parallel ranks sum their windows over the gang.
#ifndef POLYTRAIN_WORKER_TRAINING_WINDOW_H_
#define POLYTRAIN_WORKER_TRAINING_WINDOW_H_

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "worker/replica_group.h"

namespace polytrain {

// What a closed window logs.
struct WindowTotals {
  // The window's loss is loss_sum / loss_denominator: its batches' means weighted by their
  // denominators (the rows, or where ignore_index or class weights make it other, what each
  // batch's mean divided by: a batch of ignored rows only weighs nothing), or its sums per row.
  // 0 / 0 where every row of the window was ignored.
  double loss_sum = 0.0;
  double loss_denominator = 0.0;
  // Correct predictions (multi-label: label decisions): this rank's, the gang's after SumOverGang.
  int64_t correct = 0;
  int64_t scored = 0;    // the rows (multi-label: elements) accuracy counts, as `correct`
  int64_t samples = 0;   // the rows of the window's (global) batches
  double seconds = 0.0;  // training time, logging and evaluation excluded
  // Rows per second: the window's, or a gang's sum of its ranks' rates after SumOverGang.
  double samples_per_second = 0.0;
  // Data-parallel: the gradient all-reduce's seconds and bytes per step.
  double allreduce_seconds_per_step = 0.0;
  double allreduce_bytes_per_step = 0.0;
};

// What a batch's REDUCTION_MEAN loss divided by, where ignore_index or class weights make it
// other than the batch's rows: one worker's, from its targets, stays on the device; a gang's,
// from the epoch's order, is known on the host (sent to the device it would cost a copy, on a
// GPU a sync, every step). Neither set: the batch's rows.
struct MeanDenominator {
  torch::Tensor on_device;  // a float64 scalar
  std::optional<double> on_host;
};

class TrainingWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // timed_per_step: each step's time is what AddStep is given (a host step is done when it
  // returns); otherwise a window's time is its clock from Restart to Close (a GPU catches up at
  // Close's reads). group: the gang of a data-parallel run, null for one replica. ignored_label:
  // the target accuracy does not count (UnscoredTarget: a softmax loss's ignored rows, or the
  // ignored elements of multi-label targets).
  TrainingWindow(const torch::Device& device, bool timed_per_step, ReplicaGroup* group,
                 std::optional<int64_t> ignored_label = std::nullopt);

  // One step. loss: its value as the loss returned it (a batch mean counts by its denominator,
  // the whole batch's, a sum once per row); logits and targets: this rank's rows (undefined
  // where it had none, local_samples 0).
  void AddStep(const torch::Tensor& loss, bool batch_mean, const MeanDenominator& mean_denominator,
               const torch::Tensor& logits, const torch::Tensor& targets, int64_t samples,
               int64_t local_samples, Clock::time_point step_start);

  // Steps since the last Restart: 0 where a window has just ended.
  int64_t steps() const { return steps_; }

  // The window's sums, read from the device (its only reads).
  WindowTotals Close();

  // Data-parallel, on every rank at the same step: reports this rank's mean step and all-reduce
  // seconds to on_replica_window, then sums correct predictions, scored rows and samples/s over
  // the gang.
  absl::Status SumOverGang(WindowTotals& totals,
                           const std::function<void(double step_seconds, double allreduce_seconds,
                                                    double samples_per_second)>& on_replica_window);

  // Starts the next window: sums cleared, clock started (after the last window's logging,
  // evaluation and checkpoint, whose time is not training time).
  void Restart();

  // Over every closed window and, timed per step, the steps since: training seconds and this
  // rank's rows.
  double trained_seconds() const { return trained_seconds_; }
  int64_t trained_samples() const { return trained_samples_; }

 private:
  ReplicaGroup* const group_;
  const bool timed_per_step_;
  torch::Tensor loss_sum_;  // float64, on the device
  // The denominators given to AddStep: on the device (float64; undefined until one is), on the
  // host.
  torch::Tensor weighted_denominator_;
  double host_denominator_ = 0.0;
  int64_t unweighted_samples_ = 0;  // the rows of the steps whose mean counts by rows (or sums)
  const std::optional<int64_t> ignored_label_;
  torch::Tensor correct_;  // int64, on the device
  torch::Tensor scored_;   // int64, on the device: this rank's rows that accuracy counts
  int64_t steps_ = 0;
  int64_t samples_ = 0;
  int64_t local_samples_ = 0;
  double seconds_ = 0.0;  // timed per step: the sum of the steps' times
  Clock::time_point start_;
  double allreduce_seconds_start_ = 0.0;
  int64_t allreduce_bytes_start_ = 0;
  double trained_seconds_ = 0.0;
  int64_t trained_samples_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_TRAINING_WINDOW_H_
