#include "worker/training_window.h"

#include <algorithm>

#include "common/status_macros.h"
#include "worker/multi_label.h"

namespace polytrain {
namespace {

double SecondsSince(TrainingWindow::Clock::time_point start) {
  return std::chrono::duration<double>(TrainingWindow::Clock::now() - start).count();
}

}  // namespace

TrainingWindow::TrainingWindow(const torch::Device& device, bool timed_per_step,
                               ReplicaGroup* group, std::optional<int64_t> ignored_label)
    : group_(group),
      timed_per_step_(timed_per_step),
      loss_sum_(torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device))),
      ignored_label_(ignored_label),
      correct_(torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device))),
      scored_(torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device))) {
  Restart();
}

void TrainingWindow::AddStep(const torch::Tensor& loss, bool batch_mean,
                             const MeanDenominator& mean_denominator, const torch::Tensor& logits,
                             const torch::Tensor& targets, int64_t samples, int64_t local_samples,
                             Clock::time_point step_start) {
  if (local_samples > 0 && IsMultiLabel(targets)) {
    const LabelDecisions decisions = DecideLabels(logits, targets, ignored_label_);
    correct_ += decisions.Hits().sum();
    scored_ += decisions.kept.sum();
  } else if (local_samples > 0) {
    const torch::Tensor hits = logits.argmax(1).eq(targets);
    if (ignored_label_) {
      const torch::Tensor kept = targets.ne(*ignored_label_);
      correct_ += hits.logical_and(kept).sum();
      scored_ += kept.sum();
    } else {
      correct_ += hits.sum();
      scored_ += local_samples;
    }
  }
  if (batch_mean && mean_denominator.on_host.has_value()) {
    loss_sum_ += loss.detach().to(torch::kDouble) * *mean_denominator.on_host;
    host_denominator_ += *mean_denominator.on_host;
  } else if (batch_mean && mean_denominator.on_device.defined()) {
    const torch::Tensor d = mean_denominator.on_device.to(torch::kDouble);
    loss_sum_ += loss.detach().to(torch::kDouble) * d;
    weighted_denominator_ = weighted_denominator_.defined() ? weighted_denominator_ + d : d.clone();
  } else {
    loss_sum_ +=
        loss.detach().to(torch::kDouble) * (batch_mean ? static_cast<double>(samples) : 1.0);
    unweighted_samples_ += samples;
  }
  samples_ += samples;
  local_samples_ += local_samples;
  trained_samples_ += local_samples;
  ++steps_;
  if (timed_per_step_) {
    const double seconds = SecondsSince(step_start);
    seconds_ += seconds;
    trained_seconds_ += seconds;
  }
}

WindowTotals TrainingWindow::Close() {
  WindowTotals totals;
  totals.loss_sum = loss_sum_.item<double>();
  totals.loss_denominator =
      static_cast<double>(unweighted_samples_) + host_denominator_ +
      (weighted_denominator_.defined() ? weighted_denominator_.item<double>() : 0.0);
  totals.correct = correct_.item<int64_t>();
  totals.scored = scored_.item<int64_t>();
  totals.samples = samples_;
  if (timed_per_step_) {
    totals.seconds = seconds_;
  } else {
    totals.seconds = SecondsSince(start_);
    trained_seconds_ += totals.seconds;
  }
  totals.samples_per_second = samples_ / std::max(totals.seconds, 1e-9);
  return totals;
}

absl::Status TrainingWindow::SumOverGang(
    WindowTotals& totals, const std::function<void(double, double, double)>& on_replica_window) {
  if (group_ == nullptr || steps_ == 0) return absl::OkStatus();
  const double local_rate = local_samples_ / std::max(totals.seconds, 1e-9);
  totals.allreduce_seconds_per_step =
      (group_->gradient_seconds() - allreduce_seconds_start_) / steps_;
  totals.allreduce_bytes_per_step =
      static_cast<double>(group_->gradient_bytes() - allreduce_bytes_start_) / steps_;
  if (on_replica_window) {
    on_replica_window(totals.seconds / steps_, totals.allreduce_seconds_per_step, local_rate);
  }
  torch::Tensor sums = torch::tensor(
      {static_cast<double>(totals.correct), static_cast<double>(totals.scored), local_rate},
      torch::kDouble);
  POLYTRAIN_RETURN_IF_ERROR(group_->Sum(sums));
  totals.correct = static_cast<int64_t>(sums[0].item<double>());
  totals.scored = static_cast<int64_t>(sums[1].item<double>());
  totals.samples_per_second = sums[2].item<double>();
  return absl::OkStatus();
}

void TrainingWindow::Restart() {
  loss_sum_.zero_();
  weighted_denominator_ = torch::Tensor();
  host_denominator_ = 0.0;
  unweighted_samples_ = 0;
  correct_.zero_();
  scored_.zero_();
  steps_ = 0;
  samples_ = 0;
  local_samples_ = 0;
  seconds_ = 0.0;
  if (group_ != nullptr) {
    allreduce_seconds_start_ = group_->gradient_seconds();
    allreduce_bytes_start_ = group_->gradient_bytes();
  }
  start_ = Clock::now();
}

}  // namespace polytrain
