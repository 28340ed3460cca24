#include "worker/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "api/job_spec.h"
#include "api/job_spec_defaults.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "loss/core/describe.h"
#include "loss/spec/loss_spec.h"
#include "worker/augmentation.h"
#include "worker/autocast_scope.h"
#include "worker/compute_threads.h"
#include "worker/determinism.h"
#include "worker/device_choice.h"
#include "worker/evaluation.h"
#include "worker/gpu_memory.h"
#include "worker/gradient_norm.h"
#include "worker/job_model.h"
#include "worker/lr_schedule.h"
#include "worker/model.h"
#include "worker/optimizer.h"
#include "worker/scripted_model.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;
using Clock = std::chrono::steady_clock;

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

// Datasets up to this size move to the training device once; larger ones stay on the host and
// each batch is copied.
constexpr int64_t kMaxResidentDatasetBytes = int64_t{4} << 30;

int64_t Bytes(const Split& split) {
  return split.x.defined() ? split.x.nbytes() + split.y.nbytes() : 0;
}

}  // namespace

Trainer::Trainer(JobSpec spec, TrainerOptions options, Dataset data,
                 std::unique_ptr<TrainableModel> model, loss::LossConfig loss_config,
                 torch::Device device)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      data_(std::move(data)),
      model_(std::move(model)),
      loss_(loss_config),
      per_sample_loss_([&] {
        loss::LossConfig none = loss_config;
        none.reduction = loss::Reduction::kNone;
        return none;
      }()),
      device_(device) {
  optimizer_ = MakeOptimizer(spec_.optimizer(), model_->Parameters());
  const int64_t n = data_.train.size();
  steps_per_epoch_ = (n + spec_.batch_size() - 1) / spec_.batch_size();
  total_steps_ = spec_.epochs() > 0 ? spec_.epochs() * steps_per_epoch_ : spec_.max_steps();
  if (spec_.max_steps() > 0) total_steps_ = std::min<int64_t>(total_steps_, spec_.max_steps());
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const JobSpec& spec,
                                                         TrainerOptions options) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobSpec(spec));
  absl::StatusOr<loss::LossConfig> loss_config = loss::ToLossConfig(spec.loss(), "spec.loss");
  if (!loss_config.ok()) return loss_config.status();
  absl::StatusOr<torch::Device> device = ChooseDevice(spec, options.cuda_device);
  if (!device.ok()) return device.status();
  try {
    const int max_threads = options.max_threads > 0 ? options.max_threads : MachineCores();
    // An MLP's time is its linear layers' matrix products: its threads go to BLAS.
    const std::string threads =
        SetComputeThreads(JobThreads(Threads(spec), max_threads),
                          spec.model().has_mlp() ? ThreadPool::kBlas : ThreadPool::kLibTorch);
    const JobFiles files{options.data_root, options.artifact_files};
    absl::StatusOr<Dataset> data = LoadDataset(spec.dataset(), files, spec.seed());
    if (!data.ok()) return data.status();
    if (!loss_config->class_weights.empty() &&
        static_cast<int64_t>(loss_config->class_weights.size()) != data->classes) {
      return InvalidField("spec.loss.class_weights",
                          absl::StrCat("has ", loss_config->class_weights.size(),
                                       " entries but the dataset has ", data->classes, " classes"));
    }
    torch::manual_seed(spec.seed());
    absl::StatusOr<std::unique_ptr<TrainableModel>> model =
        MakeJobModel(spec.model(), *data, files, *device);
    if (!model.ok()) return model.status();
    if (!device->is_cpu() && Bytes(data->train) + Bytes(data->validation) + Bytes(data->test) <=
                                 kMaxResidentDatasetBytes) {
      for (Split* split : {&data->train, &data->validation, &data->test}) {
        if (!split->x.defined()) continue;
        split->x = split->x.to(*device);
        split->y = split->y.to(*device);
      }
    }
    std::unique_ptr<Trainer> trainer(new Trainer(spec, std::move(options), *std::move(data),
                                                 *std::move(model), *std::move(loss_config),
                                                 *device));
    trainer->threads_description_ = threads;
    return trainer;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("setting up the job: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {  // e.g. std::bad_alloc for a file's declared size
    return absl::InternalError(absl::StrCat("setting up the job: ", e.what()));
  }
}

std::string Trainer::Describe() const {
  return absl::StrCat(
      model_->Describe(), "; ", data_.description, "; loss ", loss::ShortName(loss_.config()), "; ",
      total_steps_, " steps of batch ", spec_.batch_size(), " on ", device_.str(), " in ",
      PrecisionName(spec_.precision()), spec_.deterministic() ? ", deterministic" : "", " (",
      threads_description_, ")");
}

absl::StatusOr<TrainingSummary> Trainer::Run() {
  try {
    return RunLoop();
  } catch (const ModelOutputError& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LibTorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training: ", e.what()));
  }
}

absl::StatusOr<TrainingSummary> Trainer::RunLoop() {
  TrainingSummary summary;
  summary.total_steps = total_steps_;
  const std::unique_ptr<AlgorithmLease> algorithms = LeaseAlgorithms(spec_.deterministic());
  const TrainingState state{*model_, *optimizer_, device_};
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
  }
  ReplicaGroup* const group = options_.replicas;
  const int rank = group != nullptr ? group->rank() : 0;
  const int world = group != nullptr ? group->world_size() : 1;
  const bool lead = rank == 0;  // evaluates, checkpoints and reports for the gang
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
  const int keep_last = CheckpointKeepLast(spec_);
  std::vector<torch::Tensor> parameters = model_->Parameters();
  torch::Tensor order;
  int64_t order_epoch = -1, last_eval_step = -1, last_checkpoint_step = -1;
  double window_seconds = 0.0, train_seconds = 0.0;
  int64_t window_samples = 0, trained_samples = 0;
  // Data-parallel: this rank's share of the window, and the gradient traffic when it began.
  int64_t window_steps = 0, window_local_samples = 0;
  double window_allreduce_start = group != nullptr ? group->gradient_seconds() : 0.0;
  int64_t window_bytes_start = group != nullptr ? group->gradient_bytes() : 0;
  // The window's loss (sum over samples) and correct predictions stay on the training device
  // and are read at logging points only: on a GPU no step waits for them. On the CPU the loss is
  // also read every step (that costs nothing there), so a diverged run stops at its first
  // non-finite step.
  const bool read_every_step = device_.is_cpu();
  const auto zeros = [&](torch::ScalarType type) {
    return torch::zeros({}, torch::TensorOptions().dtype(type).device(device_));
  };
  torch::Tensor window_loss = zeros(torch::kDouble), window_correct = zeros(torch::kLong);
  Clock::time_point window_start = Clock::now();
  // A non-finite loss stops the run: `step` is the step it came from, or with `in_window` the
  // last of the logging window it was found in.
  auto diverged = [&](double loss, int64_t step, int64_t epoch, bool in_window) {
    return absl::AbortedError(
        absl::StrCat("training diverged: the loss is ", loss,
                     in_window ? " in the steps up to step " : " at step ", step, " (epoch ", epoch,
                     "); lower spec.optimizer.learning_rate or set spec.optimizer.grad_clip_norm"));
  };
  model_->SetTraining(true);

  // An evaluation whose loss is not finite fails the job as a diverged training does: its
  // accuracy (every NaN row predicts class 0) would be made up.
  auto evaluate = [&]() -> absl::Status {
    summary.final_metrics = EvaluateAll();
    for (const char* key : {"eval_loss", "val_loss"}) {
      auto it = summary.final_metrics.find(key);
      if (it != summary.final_metrics.end() && !std::isfinite(it->second)) {
        return absl::AbortedError(absl::StrCat(
            "evaluation diverged: ", key, " is ", it->second, " at step ", position.step,
            " (epoch ", position.epoch,
            "): the model's outputs are not finite; lower spec.optimizer.learning_rate or set "
            "spec.optimizer.grad_clip_norm"));
      }
    }
    EmitEval(position, Seconds(start), summary.final_metrics);
    return absl::OkStatus();
  };

  auto checkpoint = [&]() -> absl::Status {
    absl::StatusOr<std::string> path =
        SaveCheckpoint(options_.checkpoint_dir, state, position, keep_last);
    if (!path.ok()) return path.status();
    summary.last_checkpoint = *path;
    last_checkpoint_step = position.step;
    if (options_.on_checkpoint) options_.on_checkpoint(*path);
    return absl::OkStatus();
  };

  const bool augments = Augments(spec_.dataset().augment());
  const int64_t first_step = position.step;
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
      if (window_steps == 0) {
        if (position.step > first_step && last_checkpoint_step != position.step) {
          POLYTRAIN_RETURN_IF_ERROR(checkpoint());
        }
        summary.released = true;
        summary.steps = position.step;
        summary.seconds = Seconds(start);
        summary.samples_per_second = trained_samples / std::max(train_seconds, 1e-9);
        summary.trained_samples = trained_samples;
        return summary;
      }
    }
    const Clock::time_point step_start = Clock::now();
    if (order_epoch != position.epoch) {  // drawn on the host, copied once per epoch
      order = EpochOrder(spec_.seed(), position.epoch, n).to(data_.train.x.device());
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
    if (group != nullptr) {
      // A rank's gradient counts by its share of the batch (for a mean); the sum over ranks is
      // then the whole batch's gradient, and the loss riding along is the whole batch's loss, so
      // every rank sees a divergence at the same step. Buckets go out during backward.
      const bool mean = loss_.config().reduction == loss::Reduction::kMean;
      const double weight = mean ? static_cast<double>(local_len) / static_cast<double>(len) : 1.0;
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
    if (local_len > 0) window_correct += logits.argmax(1).eq(y).sum();
    // The window's summed loss over samples: a mean's batch value counts len times, a sum's once.
    const bool batch_mean = loss_.config().reduction == loss::Reduction::kMean;
    window_loss += loss.detach().to(torch::kDouble) * (batch_mean ? static_cast<double>(len) : 1.0);
    window_samples += len;
    window_local_samples += local_len;
    ++window_steps;
    trained_samples += local_len;
    if (read_every_step) {  // a host step is done when it returns
      const double step_seconds = Seconds(step_start);
      window_seconds += step_seconds;
      train_seconds += step_seconds;
    }

    ++position.step;
    ++position.batch_in_epoch;
    const bool epoch_end = position.batch_in_epoch == steps_per_epoch_;
    const int64_t epoch_of_step = position.epoch;
    const double progress = static_cast<double>(position.batch_in_epoch) / steps_per_epoch_;
    if (epoch_end) {
      ++position.epoch;
      position.batch_in_epoch = 0;
      ++summary.epochs_completed;
    }

    double window_loss_sum = 0.0, window_grad_norm = 0.0;
    int64_t window_correct_count = 0;
    if (log_now) {  // the window's only reads from the device (a GPU catches up here)
      window_loss_sum = window_loss.item<double>();
      window_correct_count = window_correct.item<int64_t>();
      window_grad_norm = grad_norm.defined() ? grad_norm.item<double>() : 0.0;
      if (!read_every_step) {
        window_seconds = Seconds(window_start);
        train_seconds += window_seconds;
        if (!std::isfinite(window_loss_sum)) {
          return diverged(window_loss_sum, position.step, epoch_of_step, true);
        }
      }
    }
    // Data-parallel: the gang's correct predictions and samples/s are the sums over its ranks.
    double window_rate = window_samples / std::max(window_seconds, 1e-9);
    double allreduce_seconds = 0.0, allreduce_bytes = 0.0;
    if (log_now && group != nullptr) {
      const double local_rate = window_local_samples / std::max(window_seconds, 1e-9);
      allreduce_seconds = (group->gradient_seconds() - window_allreduce_start) / window_steps;
      allreduce_bytes =
          static_cast<double>(group->gradient_bytes() - window_bytes_start) / window_steps;
      if (options_.on_replica_window) {
        options_.on_replica_window(window_seconds / window_steps, allreduce_seconds, local_rate);
      }
      torch::Tensor sums =
          torch::tensor({static_cast<double>(window_correct_count), local_rate}, torch::kDouble);
      POLYTRAIN_RETURN_IF_ERROR(group->Sum(sums));
      window_correct_count = static_cast<int64_t>(sums[0].item<double>());
      window_rate = sums[1].item<double>();
    }
    if (log_now && options_.sink != nullptr && lead) {
      MetricPoint point;
      point.set_kind(MetricPoint::KIND_TRAIN);
      point.set_step(position.step);
      point.set_epoch(static_cast<int32_t>(epoch_of_step));
      point.set_epoch_progress(progress);
      point.set_elapsed_seconds(Seconds(start));
      auto& values = *point.mutable_values();
      values["loss"] = window_loss_sum / static_cast<double>(window_samples);
      values["accuracy"] =
          static_cast<double>(window_correct_count) / static_cast<double>(window_samples);
      values["learning_rate"] = lr;
      values["samples_per_second"] = window_rate;
      values["grad_norm"] = window_grad_norm;
      if (group != nullptr) {
        values["allreduce_seconds_per_step"] = allreduce_seconds;
        values["allreduce_bytes_per_step"] = allreduce_bytes;
      }
      if (const std::optional<GpuMemory> memory = ReadGpuMemory(device_)) {
        values["gpu_memory_peak_bytes"] = static_cast<double>(memory->peak_allocated_bytes);
        ResetGpuMemoryPeak(device_);  // each window reports its own peak
      }
      options_.sink->Emit(point);
    }
    if (log_now) {
      window_loss.zero_();
      window_correct.zero_();
      window_seconds = 0.0;
      window_samples = 0;
      window_local_samples = 0;
      window_steps = 0;
      if (group != nullptr) {
        window_allreduce_start = group->gradient_seconds();
        window_bytes_start = group->gradient_bytes();
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
    // A new window begins after the logging, evaluation and checkpoint of the last (their time
    // is not training time).
    if (log_now) window_start = Clock::now();
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
  summary.steps = position.step;
  summary.seconds = Seconds(start);
  summary.samples_per_second = trained_samples / std::max(train_seconds, 1e-9);
  summary.trained_samples = trained_samples;
  return summary;
}

}  // namespace polytrain
