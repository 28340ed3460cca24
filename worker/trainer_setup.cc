// Trainer's set-up: a JobSpec checked, its data loaded, its model built on its device, and the
// one-line description a run's log starts with. The training loop is trainer.cc.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "api/dataset_checks.h"
#include "api/job_spec.h"
#include "api/job_spec_defaults.h"
#include "api/loss_dataset_fit.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "loss/core/describe.h"
#include "loss/spec/loss_spec.h"
#include "worker/autocast_scope.h"
#include "worker/compute_threads.h"
#include "worker/device_choice.h"
#include "worker/job_model.h"
#include "worker/load_probe.h"
#include "worker/multi_label.h"
#include "worker/optimizer.h"
#include "worker/trainer.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;

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
  steps_per_epoch_ = spec_.drop_last() ? n / spec_.batch_size()
                                       : (n + spec_.batch_size() - 1) / spec_.batch_size();
  total_steps_ = spec_.epochs() > 0 ? spec_.epochs() * steps_per_epoch_ : spec_.max_steps();
  if (spec_.max_steps() > 0) total_steps_ = std::min<int64_t>(total_steps_, spec_.max_steps());
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const JobSpec& spec,
                                                         TrainerOptions options) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobSpec(spec));
  const ProbeCancel probe_cancel(options.cancel, options.release);  // its files' load probes
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
    if (IsMultiLabel(data->train.y)) {
      POLYTRAIN_RETURN_IF_ERROR(
          CheckMultiLabelJob(*loss_config, *data, spec.dataset().validation_fraction() > 0.0));
    }
    if (!loss_config->class_weights.empty() &&
        static_cast<int64_t>(loss_config->class_weights.size()) != data->classes) {
      return InvalidField(
          "spec.loss.class_weights",
          absl::StrCat("has ", loss_config->class_weights.size(), " entries but the dataset has ",
                       data->classes, IsMultiLabel(data->train.y) ? " labels" : " classes"));
    }
    if (!IsMultiLabel(data->train.y)) {
      POLYTRAIN_RETURN_IF_ERROR(CheckIgnoredClass(spec.loss(), "spec.loss", data->classes));
    }
    if (spec.drop_last()) {
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDropLastBatch(data->train.size(), spec.batch_size(), "spec.drop_last"));
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
      total_steps_, total_steps_ == 1 ? " step" : " steps", " of batch ", spec_.batch_size(),
      " on ", device_.str(), " in ", PrecisionName(spec_.precision()),
      spec_.deterministic() ? ", deterministic" : "", " (", threads_description_, ")");
}

}  // namespace polytrain
