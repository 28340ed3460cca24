#include "worker/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "api/job_spec.h"
#include "api/job_spec_defaults.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "loss/core/describe.h"
#include "loss/spec/loss_spec.h"
#include "worker/augmentation.h"
#include "worker/autocast_scope.h"
#include "worker/best_checkpoint.h"
#include "worker/compute_threads.h"
#include "worker/determinism.h"
#include "worker/device_choice.h"
#include "worker/evaluation.h"
#include "worker/gpu_memory.h"
#include "worker/gradient_norm.h"
#include "worker/job_model.h"
#include "worker/load_probe.h"
#include "worker/loss_denominator.h"
#include "worker/lr_schedule.h"
#include "worker/model.h"
#include "worker/multi_label.h"
#include "worker/optimizer.h"
#include "worker/replica_share.h"
#include "worker/scripted_model.h"
#include "worker/training_window.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;
using Clock = std::chrono::steady_clock;

// Inputs past this magnitude are named when training diverges (Fashion-MNIST's are in [0, 1]).
constexpr double kLargeInput = 1e4;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The data order of epoch e: its own generator, so a resumed run draws the same order without
// replaying earlier epochs.
torch::Tensor EpochOrder(uint64_t seed, int64_t epoch, int64_t n) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
      seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) + 1);
  return torch::randperm(n, generator, torch::kLong);
}

}  // namespace

absl::StatusOr<TrainingSummary> Trainer::Run() {
  const ProbeCancel probe_cancel(options_.cancel, options_.release);  // its checkpoint's probe
  try {
    return RunLoop();
  } catch (const ModelOutputError& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    // BatchNorm cannot train on a single sample: an epoch's short last batch may hold one, or
    // leave a replica a share of one. The spec can avoid it.
    if (what.find("Expected more than 1 value per channel when training") != std::string::npos &&
        !spec_.drop_last() && spec_.batch_size() / std::max(1, spec_.replicas()) > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.drop_last: a BatchNorm layer met a batch of one sample (an epoch's "
                       "short last batch, or a replica's share of it); drop_last: true drops that "
                       "batch. LibTorch: ",
                       what));
    }
    return absl::InternalError(absl::StrCat("LibTorch: ", what));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training: ", e.what()));
  }
}

absl::StatusOr<TrainingSummary> Trainer::RunLoop() {
  TrainingSummary summary;
  summary.total_steps = total_steps_;
  const std::unique_ptr<AlgorithmLease> algorithms = LeaseAlgorithms(spec_.deterministic());
  const TrainingState state{*model_, *optimizer_, device_, &spec_, data_.train.size()};
  RunPosition position;
  if (options_.resume && !options_.checkpoint_dir.empty()) {
    absl::StatusOr<std::optional<RunPosition>> restored = RestoreNewestIntactCheckpoint(
        options_.checkpoint_dir, state, &summary.passed_over_checkpoints);
    if (!restored.ok()) return restored.status();
    if (restored->has_value()) {
      position = **restored;
      summary.resumed = true;
      summary.resumed_from_step = position.step;
    }
    if (position.step > total_steps_) {
      return absl::InvalidArgumentError(
          absl::StrCat("--resume: the newest checkpoint in ", options_.checkpoint_dir,
                       " is at step ", position.step, ", past this run's end (", total_steps_,
                       " steps): give spec.epochs or spec.max_steps that reach it, or another "
                       "--checkpoint_dir"));
    }
    steps_run_ = position.step;
  }
  ReplicaGroup* const group = options_.replicas;
  const int rank = group != nullptr ? group->rank() : 0;
  const int world = group != nullptr ? group->world_size() : 1;
  const bool lead = rank == 0;  // evaluates, checkpoints and reports for the gang
  const int keep_last = CheckpointKeepLast(spec_);
  // Only the lead writes checkpoints: the other ranks leave the directory alone.
  BestCheckpointKeeper best(lead ? options_.checkpoint_dir : "",
                            options_.keep_best_checkpoint ? spec_.checkpoint().keep_best_by() : "",
                            keep_last);
  best.Start(position.step);
  if (group != nullptr) {
    // Every rank resumed from the same stored checkpoint (or none): all start together from
    // rank 0's step and weights.
    std::vector<torch::Tensor> state_tensors;
    for (auto& [name, tensor] : model_->State()) state_tensors.push_back(tensor);
    POLYTRAIN_RETURN_IF_ERROR(group->StartTogether(position.step, state_tensors));
    POLYTRAIN_RETURN_IF_ERROR(group->AttachTo(model_->Parameters()));
  }
  if (options_.on_start) options_.on_start(position.step);
  int64_t pause_step = options_.pause_at_step > 0 ? options_.pause_at_step
                                                  : options_.pause_at_epoch * steps_per_epoch_;
  if (pause_step >= total_steps_) pause_step = 0;

  const Clock::time_point start = Clock::now();
  const int64_t n = data_.train.size();
  const int log_every = LogEverySteps(spec_);
  std::vector<torch::Tensor> parameters = model_->Parameters();
  torch::Tensor order, host_order;
  int64_t order_epoch = -1, last_eval_step = -1, last_checkpoint_step = -1;
  // A gang's mean with class weights or ignore_index: each rank's share of the denominator.
  const loss::LossConfig& loss_config = loss_.config();
  // Such a mean's batches also weigh in their window's loss by their denominators (a batch of
  // ignored rows only, by nothing), not by their rows.
  const bool weighted_mean = loss_config.reduction == loss::Reduction::kMean &&
                             (!loss_config.class_weights.empty() || loss_config.ignore_index);
  std::optional<ReplicaShare> replica_share;
  if (group != nullptr && weighted_mean) {
    replica_share.emplace(loss_config, data_.train.y, data_.classes);
  }
  // On the CPU the loss is also read every step (that costs nothing there), so a diverged run
  // stops at its first non-finite step; on a GPU only at logging points.
  const bool read_every_step = device_.is_cpu();
  const int64_t first_step = position.step;
  TrainingWindow window(device_, read_every_step, group,
                        UnscoredTarget(loss_config, IsMultiLabel(data_.train.y)));
  // A non-finite loss stops the run: `step` is the step it came from, or with `in_window` the
  // last of the logging window it was found in.
  // The data were checked finite on load, so a loss that is not finite at the run's first step,
  // before any update, comes from the model's weights: the learning rate is not the cause.
  auto diverged = [&](double loss, int64_t step, int64_t epoch, bool in_window) {
    // Inputs far from unit scale (a normalize whose std is tiny) blow up the outputs and the
    // first updates whatever the learning rate: said where they are the likelier cause.
    const double largest_input = std::max(std::abs(data_.train.x.min().item<double>()),
                                          std::abs(data_.train.x.max().item<double>()));
    const std::string inputs =
        largest_input > kLargeInput
            ? absl::StrCat("; the training inputs reach |x| = ", largest_input,
                           spec_.dataset().has_normalize() ? " after spec.dataset.normalize" : "",
                           ": bring them nearer to unit scale")
            : "";
    if (!in_window && step == first_step + 1) {
      return absl::AbortedError(absl::StrCat(
          "the loss is ", loss, " at step ", step, " (epoch ", epoch,
          "), before any update of this run: the model's outputs on finite data are not finite "
          "or too large for the loss (check spec.model's weights",
          first_step > 0 ? " and the checkpoint resumed from" : "", ")", inputs));
    }
    return absl::AbortedError(absl::StrCat(
        "training diverged: the loss is ", loss,
        in_window ? " in the steps up to step " : " at step ", step, " (epoch ", epoch,
        "); lower spec.optimizer.learning_rate or set spec.optimizer.grad_clip_norm", inputs));
  };
  model_->SetTraining(true);

  // An evaluation whose loss is not finite fails the job as a diverged training does: its
  // accuracy (every NaN row predicts class 0) would be made up.
  auto evaluate = [&]() -> absl::Status {
    summary.final_metrics = EvaluateAll();
    summary.final_metrics_step = position.step;
    for (const char* key : {"eval_loss", "val_loss", "eval_nll", "val_nll"}) {
      auto it = summary.final_metrics.find(key);
      if (it != summary.final_metrics.end() && !std::isfinite(it->second)) {
        return absl::AbortedError(absl::StrCat(
            "evaluation diverged: ", key, " is ", it->second, " at step ", position.step,
            " (epoch ", position.EpochOfLastStep(),
            "): the model's outputs are not finite; lower spec.optimizer.learning_rate or set "
            "spec.optimizer.grad_clip_norm"));
      }
    }
    EmitEval(position, Seconds(start), summary.final_metrics);
    best.Evaluated(position.step, summary.final_metrics);
    return absl::OkStatus();
  };

  auto finish = [&]() {
    summary.steps = position.step;
    summary.seconds = Seconds(start);
    summary.trained_samples = window.trained_samples();
    summary.samples_per_second =
        window.trained_samples() / std::max(window.trained_seconds(), 1e-9);
    summary.best_checkpoint = best.best();
    if (!best.file_name().empty()) {
      summary.best_checkpoint.set_path(options_.checkpoint_dir + "/" + best.file_name());
    }
    return summary;
  };

  auto checkpoint = [&]() -> absl::Status {
    absl::StatusOr<std::string> path =
        SaveCheckpoint(options_.checkpoint_dir, state, position, keep_last, best.file_name());
    if (!path.ok() && options_.checkpoints_best_effort) {
      summary.checkpoint_failures.push_back(std::string(path.status().message()));
      return absl::OkStatus();
    }
    if (!path.ok()) return path.status();
    summary.last_checkpoint = *path;
    last_checkpoint_step = position.step;
    best.Saved(*path, position.step);
    if (options_.on_checkpoint) options_.on_checkpoint(*path);
    return absl::OkStatus();
  };

  const bool augments = Augments(spec_.dataset().augment());
  // A drain checkpoints where a logging window ends (none is open here): the window's sums are
  // not in a checkpoint, so a resume from there logs exactly what an uninterrupted run logs.
  const bool checkpoints_at_release = !options_.checkpoint_dir.empty() && group == nullptr;
  while (position.step < total_steps_) {
    if (options_.cancel != nullptr && options_.cancel->load()) {
      return absl::CancelledError(absl::StrCat("cancelled at step ", position.step));
    }
    if (options_.release != nullptr && options_.release->load()) {
      if (!checkpoints_at_release) {
        return absl::CancelledError(absl::StrCat("released at step ", position.step));
      }
      if (window.steps() == 0) {
        if (position.step > first_step && last_checkpoint_step != position.step) {
          POLYTRAIN_RETURN_IF_ERROR(checkpoint());
          summary.release_checkpoint_failed = last_checkpoint_step != position.step;
        }
        summary.released = true;
        return finish();
      }
    }
    const Clock::time_point step_start = Clock::now();
    if (order_epoch != position.epoch) {  // drawn on the host, copied once per epoch
      host_order = EpochOrder(spec_.seed(), position.epoch, n);
      order = host_order.to(data_.train.x.device());
      order_epoch = position.epoch;
    }
    // The global batch is [begin, begin + len) of the epoch's order; a replica takes its rank's
    // share of it (the last, short batch of an epoch may leave a rank with fewer rows or none).
    const int64_t begin = position.batch_in_epoch * spec_.batch_size();
    const int64_t len = std::min<int64_t>(spec_.batch_size(), n - begin);
    const int64_t share = spec_.batch_size() / world;
    const int64_t local_begin = std::min<int64_t>(rank * share, len);
    const int64_t local_len = std::min<int64_t>(share, len - local_begin);
    const torch::Tensor index = order.narrow(0, begin + local_begin, local_len);
    torch::Tensor x = data_.train.x.index_select(0, index).to(device_);
    if (augments && local_len > 0) {
      x = AugmentBatch(x, spec_.dataset().augment(), spec_.seed(), position.step, local_begin, len);
    }
    const torch::Tensor y = data_.train.y.index_select(0, index).to(device_);

    const double lr = LearningRateAt(spec_.schedule(), spec_.optimizer().learning_rate(),
                                     position.step, total_steps_);
    SetLearningRate(*optimizer_, lr);
    // Gradients set to "none" rather than zeroed: backward then writes them instead of adding to
    // a zeroed buffer, two passes over every parameter saved per step.
    for (torch::Tensor& p : parameters) {
      p.mutable_grad().reset();
    }
    torch::Tensor logits, loss;
    if (local_len > 0) {
      AutocastScope autocast(device_, spec_.precision());
      logits = model_->Forward(x);
      // As autocast does for torch's own losses: bfloat16 logits, a float32 loss.
      const torch::Tensor scores =
          logits.scalar_type() == torch::kBFloat16 ? logits.to(torch::kFloat) : logits;
      loss = loss_(scores, LossTargets(loss_, y, data_.classes, scores.scalar_type()));
    }
    if (read_every_step && group == nullptr) {
      const double value = loss.item<double>();
      if (!std::isfinite(value)) return diverged(value, position.step + 1, position.epoch, false);
    }
    ReplicaShare::Batch batch_share;  // with replica_share: this rank's, the batch's denominator
    if (group != nullptr) {
      // A rank's gradient counts by its share of the batch (for a mean: of its denominator);
      // the sum over ranks is then the whole batch's gradient, and the loss riding along is the
      // whole batch's loss, so every rank sees a divergence at the same step. Buckets go out
      // during backward.
      const bool mean = loss_config.reduction == loss::Reduction::kMean;
      double weight = mean ? static_cast<double>(local_len) / static_cast<double>(len) : 1.0;
      if (replica_share) {
        batch_share = replica_share->Of(host_order, begin, len, local_begin, local_len);
        weight = batch_share.share;
      }
      group->BeginStep(weight, local_len > 0
                                   ? loss.detach()
                                   : torch::zeros({}, torch::TensorOptions().device(device_)));
    }
    if (local_len > 0) loss.backward();
    if (group != nullptr) {
      absl::StatusOr<torch::Tensor> total = group->FinishStep();
      if (!total.ok()) return total.status();
      loss = *total;
      if (read_every_step) {
        const double value = loss.item<double>();
        if (!std::isfinite(value)) return diverged(value, position.step + 1, position.epoch, false);
      }
    }
    const bool log_now = (position.step + 1) % log_every == 0 ||
                         position.step + 1 == total_steps_ ||
                         position.batch_in_epoch + 1 == steps_per_epoch_;
    torch::Tensor grad_norm;
    if (spec_.optimizer().grad_clip_norm() > 0) {
      grad_norm = ClipGradNorm(parameters, spec_.optimizer().grad_clip_norm());
    } else if (log_now) {
      grad_norm = GradNorm(parameters);
    }
    optimizer_->step();
    MeanDenominator mean_denominator;  // the whole batch's, where not its rows
    if (replica_share) {               // only a gang's: batch_share was taken above
      mean_denominator.on_host = batch_share.denominator;
    } else if (weighted_mean) {
      mean_denominator.on_device = MeanDenominators(loss_config, y, data_.classes).sum();
    }
    window.AddStep(loss, loss_.config().reduction == loss::Reduction::kMean, mean_denominator,
                   logits, y, len, local_len, step_start);

    ++position.step;
    steps_run_ = position.step;
    ++position.batch_in_epoch;
    const bool epoch_end = position.batch_in_epoch == steps_per_epoch_;
    const int64_t epoch_of_step = position.epoch;
    const double progress = static_cast<double>(position.batch_in_epoch) / steps_per_epoch_;
    if (epoch_end) {
      ++position.epoch;
      position.batch_in_epoch = 0;
      ++summary.epochs_completed;
    }

    if (log_now) {
      WindowTotals totals = window.Close();  // the window's only reads from the device
      if (!read_every_step && !std::isfinite(totals.loss_sum)) {
        return diverged(totals.loss_sum, position.step, epoch_of_step, true);
      }
      POLYTRAIN_RETURN_IF_ERROR(window.SumOverGang(totals, options_.on_replica_window));
      if (lead) {
        EmitTrain(position, epoch_of_step, progress, Seconds(start), lr,
                  grad_norm.defined() ? grad_norm.item<double>() : 0.0, totals);
      }
    }

    const bool eval_now =
        (epoch_end && position.epoch % EvalEveryEpochs(spec_) == 0) ||
        (spec_.eval().every_steps() > 0 && position.step % spec_.eval().every_steps() == 0);
    if (eval_now && lead) {
      POLYTRAIN_RETURN_IF_ERROR(evaluate());
      last_eval_step = position.step;
    }
    if (!options_.checkpoint_dir.empty() && lead) {
      const auto& every = spec_.checkpoint();
      const bool checkpoint_now =
          (epoch_end && every.every_epochs() > 0 && position.epoch % every.every_epochs() == 0) ||
          (every.every_steps() > 0 && position.step % every.every_steps() == 0);
      if (checkpoint_now) POLYTRAIN_RETURN_IF_ERROR(checkpoint());
    }
    if (log_now) window.Restart();
    if (options_.stop_after_steps > 0 && position.step >= options_.stop_after_steps &&
        position.step < total_steps_) {
      summary.stopped_early = true;
      break;
    }
    if (pause_step > 0 && position.step >= pause_step) break;
  }
  summary.paused = !summary.stopped_early && pause_step > 0 && position.step >= pause_step;

  if (!summary.stopped_early && lead) {
    if (last_eval_step != position.step) POLYTRAIN_RETURN_IF_ERROR(evaluate());
    if (!options_.checkpoint_dir.empty() && last_checkpoint_step != position.step) {
      POLYTRAIN_RETURN_IF_ERROR(checkpoint());
    }
  }
  return finish();
}

void Trainer::EmitTrain(const RunPosition& position, int64_t epoch, double epoch_progress,
                        double elapsed, double learning_rate, double grad_norm,
                        const WindowTotals& totals) {
  if (options_.sink == nullptr) return;
  MetricPoint point;
  point.set_kind(MetricPoint::KIND_TRAIN);
  point.set_step(position.step);
  point.set_epoch(static_cast<int32_t>(epoch));
  point.set_epoch_progress(epoch_progress);
  point.set_elapsed_seconds(elapsed);
  auto& values = *point.mutable_values();
  // A window of ignored rows only has no loss beside its zero gradients: 0.
  values["loss"] = totals.loss_denominator > 0 ? totals.loss_sum / totals.loss_denominator : 0.0;
  // A window of ignored rows only has no accuracy to report.
  if (totals.scored > 0) {
    values["accuracy"] = static_cast<double>(totals.correct) / static_cast<double>(totals.scored);
  }
  values["learning_rate"] = learning_rate;
  values["samples_per_second"] = totals.samples_per_second;
  values["grad_norm"] = grad_norm;
  if (options_.replicas != nullptr) {
    values["allreduce_seconds_per_step"] = totals.allreduce_seconds_per_step;
    values["allreduce_bytes_per_step"] = totals.allreduce_bytes_per_step;
  }
  if (const std::optional<GpuMemory> memory = ReadGpuMemory(device_)) {
    values["gpu_memory_peak_bytes"] = static_cast<double>(memory->peak_allocated_bytes);
    ResetGpuMemoryPeak(device_);  // each window reports its own peak
  }
  options_.sink->Emit(point);
}

}  // namespace polytrain
