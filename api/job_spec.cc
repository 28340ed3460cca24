#include "api/job_spec.h"

#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/artifacts.h"
#include "api/dataset_checks.h"
#include "api/limits.h"
#include "api/model_size.h"
#include "api/search_metric.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "loss/spec/loss_spec.h"

namespace polytrain {
namespace {

using polytrain::v1::DatasetSpec;
using polytrain::v1::JobSpec;
using polytrain::v1::ModelSpec;
using polytrain::v1::OptimizerSpec;
using polytrain::v1::ScheduleSpec;

bool AllCharsIn(absl::string_view s, absl::string_view extra) {
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && extra.find(c) == absl::string_view::npos) return false;
  }
  return true;
}

absl::Status CheckWidths(absl::string_view field,
                         const google::protobuf::RepeatedField<int32_t>& widths, int min_count,
                         int max_count, int max_width) {
  if (widths.size() < min_count || widths.size() > max_count) {
    return InvalidField(field, absl::StrCat("must have ", min_count, " to ", max_count,
                                            " entries, got ", widths.size()));
  }
  for (int i = 0; i < widths.size(); ++i) {
    POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(IndexPath(field, i), widths[i], 1, max_width));
  }
  return absl::OkStatus();
}

absl::Status CheckProbability(absl::string_view field, double p) {
  POLYTRAIN_RETURN_IF_ERROR(CheckFinite(field, p));
  // One message for either side: "<= 1" for 1.5 and "< 1" for 1 read as two different rules.
  if (p < 0.0 || p >= 1.0) {
    return InvalidField(field, absl::StrCat("must be in [0, 1), got ", ExactNumber(p)));
  }
  return absl::OkStatus();
}

// Values the worker uses in float32 (weights, moments): none below its smallest normal number.
absl::Status CheckFloat32Normal(absl::string_view field, double value, absl::string_view why) {
  if (value >= std::numeric_limits<float>::min()) return absl::OkStatus();
  return InvalidField(field, absl::StrCat(ExactNumber(value), " is below ",
                                          ExactNumber(std::numeric_limits<float>::min()),
                                          ", float32's smallest normal number (", why, ")"));
}

// Data paths are relative to the worker's data root; ".." never appears.
absl::Status CheckDataPath(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    return required ? InvalidField(field, "must be set") : absl::OkStatus();
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, value, 1, kMaxPathLength));
  for (absl::string_view part : absl::StrSplit(value, '/')) {
    if (part == "..") {
      return InvalidField(field, absl::StrCat("must stay inside the data root; '..' is not "
                                              "allowed, got ",
                                              Quote(value)));
    }
  }
  if (value.find('\0') != absl::string_view::npos) return InvalidField(field, "contains NUL");
  return absl::OkStatus();
}

// A user's file named by `path` (under the worker's data root) or by `artifact` (uploaded).
absl::Status CheckFileSource(const std::string& field, bool has_artifact, const std::string& path,
                             const std::string& artifact) {
  if (has_artifact) return ValidateArtifactId(FieldPath(field, "artifact"), artifact);
  if (path.empty()) return InvalidField(FieldPath(field, "path"), "set path or artifact");
  return CheckDataPath(FieldPath(field, "path"), path, true);
}

absl::Status ValidateModel(const ModelSpec& model, const std::string& path) {
  switch (model.architecture_case()) {
    case ModelSpec::kMlp:
      POLYTRAIN_RETURN_IF_ERROR(
          CheckWidths(FieldPath(path, "mlp.hidden"), model.mlp().hidden(), 0, 16, kMaxLayerWidth));
      return CheckProbability(FieldPath(path, "mlp.dropout"), model.mlp().dropout());
    case ModelSpec::kCnn:
      if (!model.cnn().channels().empty()) {
        POLYTRAIN_RETURN_IF_ERROR(
            CheckWidths(FieldPath(path, "cnn.channels"), model.cnn().channels(), 1, 8, 1024));
      }
      POLYTRAIN_RETURN_IF_ERROR(
          CheckIntRange(FieldPath(path, "cnn.hidden"), model.cnn().hidden(), 0, kMaxLayerWidth));
      return CheckProbability(FieldPath(path, "cnn.dropout"), model.cnn().dropout());
    case ModelSpec::kResnet:
      if (!model.resnet().stage_channels().empty()) {
        POLYTRAIN_RETURN_IF_ERROR(CheckWidths(FieldPath(path, "resnet.stage_channels"),
                                              model.resnet().stage_channels(), 1, 6, 1024));
      }
      return CheckIntRange(FieldPath(path, "resnet.blocks_per_stage"),
                           model.resnet().blocks_per_stage(), 0, 16);
    case ModelSpec::kTorchscript:
      POLYTRAIN_RETURN_IF_ERROR(
          CheckFileSource(FieldPath(path, "torchscript"), model.torchscript().has_artifact(),
                          model.torchscript().path(), model.torchscript().artifact()));
      if (!polytrain::v1::TorchScriptModel::Init_IsValid(model.torchscript().init())) {
        return InvalidField(FieldPath(path, "torchscript.init"),
                            absl::StrCat("unknown value ", model.torchscript().init()));
      }
      return absl::OkStatus();
    case ModelSpec::ARCHITECTURE_NOT_SET:
      break;
  }
  return InvalidField(FieldPath(path, "architecture"),
                      "no model set: choose mlp, cnn, resnet or torchscript");
}

absl::Status ValidateDataset(const DatasetSpec& data, const std::string& path) {
  switch (data.source_case()) {
    case DatasetSpec::kFashionMnist:
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDataPath(FieldPath(path, "fashion_mnist.dir"), data.fashion_mnist().dir(), false));
      break;
    case DatasetSpec::kIdx: {
      const auto& idx = data.idx();
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDataPath(FieldPath(path, "idx.train_images"), idx.train_images(), true));
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDataPath(FieldPath(path, "idx.train_labels"), idx.train_labels(), true));
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDataPath(FieldPath(path, "idx.test_images"), idx.test_images(), true));
      POLYTRAIN_RETURN_IF_ERROR(
          CheckDataPath(FieldPath(path, "idx.test_labels"), idx.test_labels(), true));
      break;
    }
    case DatasetSpec::kSynthetic: {
      const auto& syn = data.synthetic();
      const std::string s = FieldPath(path, "synthetic");
      POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(s, "classes"), syn.classes(), 2, 1000));
      POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(s, "features"), syn.features(), 1, 4096));
      POLYTRAIN_RETURN_IF_ERROR(
          CheckIntRange(FieldPath(s, "train_samples"), syn.train_samples(), 1, kMaxSamples));
      POLYTRAIN_RETURN_IF_ERROR(
          CheckIntRange(FieldPath(s, "test_samples"), syn.test_samples(), 1, kMaxSamples));
      if (syn.features() * std::max<int64_t>(syn.train_samples(), syn.test_samples()) >
          kMaxSyntheticValues) {
        return InvalidField(s, absl::StrCat("features x samples must be at most ",
                                            kMaxSyntheticValues, " (800 MB)"));
      }
      POLYTRAIN_RETURN_IF_ERROR(CheckRange(FieldPath(s, "separation"), syn.separation(), 0, 100));
      if (syn.imbalance() != 0.0) {
        POLYTRAIN_RETURN_IF_ERROR(CheckRange(FieldPath(s, "imbalance"), syn.imbalance(), 1, 1000));
      }
      POLYTRAIN_RETURN_IF_ERROR(CheckProbability(FieldPath(s, "label_noise"), syn.label_noise()));
      break;
    }
    case DatasetSpec::kTensors:
      POLYTRAIN_RETURN_IF_ERROR(CheckFileSource(FieldPath(path, "tensors"),
                                                data.tensors().has_artifact(),
                                                data.tensors().path(), data.tensors().artifact()));
      break;
    case DatasetSpec::SOURCE_NOT_SET:
      return InvalidField(FieldPath(path, "source"),
                          "no dataset set: choose fashion_mnist, idx, synthetic or tensors");
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "train_limit"), data.train_limit(), 0, kMaxSamples));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "test_limit"), data.test_limit(), 0, kMaxSamples));
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(path, "augment.random_crop_padding"),
                                          data.augment().random_crop_padding(), 0,
                                          kMaxCropPadding));
  if (data.has_normalize()) {
    POLYTRAIN_RETURN_IF_ERROR(CheckNormalization(data.normalize(), FieldPath(path, "normalize")));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckKnownSampleShape(data, path));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckRange(FieldPath(path, "validation_fraction"), data.validation_fraction(), 0, 0.5));
  return CheckKnownValidationSplit(data, path);
}

absl::Status ValidateOptimizer(const OptimizerSpec& opt, const std::string& path) {
  switch (opt.kind_case()) {
    case OptimizerSpec::kSgd:
      POLYTRAIN_RETURN_IF_ERROR(
          CheckProbability(FieldPath(path, "sgd.momentum"), opt.sgd().momentum()));
      if (opt.sgd().nesterov() && opt.sgd().momentum() == 0.0) {
        return InvalidField(FieldPath(path, "sgd.nesterov"), "needs momentum > 0");
      }
      break;
    case OptimizerSpec::kAdam:
    case OptimizerSpec::kAdamw: {
      const auto& adam = opt.kind_case() == OptimizerSpec::kAdam ? opt.adam() : opt.adamw();
      const std::string a =
          FieldPath(path, opt.kind_case() == OptimizerSpec::kAdam ? "adam" : "adamw");
      POLYTRAIN_RETURN_IF_ERROR(CheckProbability(FieldPath(a, "beta1"), adam.beta1()));
      // 0 once meant the default (before the betas had presence): a spec written then would
      // now train with a degenerate second moment. beta1 0 is a real choice (GANs).
      if (adam.has_beta2() && adam.beta2() == 0.0) {
        return absl::InvalidArgumentError(
            absl::StrCat(FieldPath(a, "beta2"),
                         ": 0 is refused (it once meant the default); leave the field "
                         "out for torch's 0.999"));
      }
      if (adam.has_beta2()) {
        const std::string beta2 = FieldPath(a, "beta2");
        POLYTRAIN_RETURN_IF_ERROR(CheckFinite(beta2, adam.beta2()));
        if (adam.beta2() <= 0.0 || adam.beta2() >= 1.0) {
          return InvalidField(beta2,
                              absl::StrCat("must be in (0, 1), got ", ExactNumber(adam.beta2())));
        }
      }
      const std::string eps = FieldPath(a, "eps");
      POLYTRAIN_RETURN_IF_ERROR(CheckRange(eps, adam.eps(), 0, 1));
      if (adam.eps() != 0.0) {  // 0: torch's 1e-8
        POLYTRAIN_RETURN_IF_ERROR(CheckFloat32Normal(eps, adam.eps(),
                                                     "the moments are float32: a smaller eps would "
                                                     "be 0 there or lose its digits"));
      }
      break;
    }
    case OptimizerSpec::KIND_NOT_SET:
      return InvalidField(FieldPath(path, "kind"), "no optimizer set: choose sgd, adam or adamw");
  }
  const std::string lr = FieldPath(path, "learning_rate");
  POLYTRAIN_RETURN_IF_ERROR(CheckPositiveRange(lr, opt.learning_rate(), 10));
  // An update scaled by so little cannot change the weights (as a loss coefficient that small is
  // refused), and the job would "succeed" without training.
  POLYTRAIN_RETURN_IF_ERROR(CheckFloat32Normal(
      lr, opt.learning_rate(), "the weights are float32: too small to change them"));
  POLYTRAIN_RETURN_IF_ERROR(CheckRange(FieldPath(path, "weight_decay"), opt.weight_decay(), 0, 1));
  return CheckRange(FieldPath(path, "grad_clip_norm"), opt.grad_clip_norm(), 0, 1e6);
}

absl::Status ValidateSchedule(const ScheduleSpec& schedule, const std::string& path) {
  switch (schedule.kind_case()) {
    case ScheduleSpec::kStep: {
      POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(path, "step.step_size"),
                                              schedule.step().step_size(), 1, kMaxSteps));
      const std::string gamma = FieldPath(path, "step.gamma");
      POLYTRAIN_RETURN_IF_ERROR(CheckPositiveRange(gamma, schedule.step().gamma(), 1));
      break;
    }
    case ScheduleSpec::kCosine:
      POLYTRAIN_RETURN_IF_ERROR(
          CheckRange(FieldPath(path, "cosine.min_factor"), schedule.cosine().min_factor(), 0, 1));
      break;
    case ScheduleSpec::kConstant:
    case ScheduleSpec::KIND_NOT_SET:
      break;
  }
  return CheckIntRange(FieldPath(path, "warmup_steps"), schedule.warmup_steps(), 0, kMaxSteps);
}

// Every field in the order job.proto declares them, so the first error is the first field's.
absl::Status ValidateSpec(const JobSpec& spec, const std::string& path, bool check_loss,
                          loss::LossConfig* loss_config) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateJobName(spec.name(), FieldPath(path, "name")));
  POLYTRAIN_RETURN_IF_ERROR(ValidateLabelMap(spec.labels(), FieldPath(path, "labels")));
  if (!spec.has_model()) return InvalidField(FieldPath(path, "model"), "must be set");
  POLYTRAIN_RETURN_IF_ERROR(ValidateModel(spec.model(), FieldPath(path, "model")));
  if (!spec.has_dataset()) return InvalidField(FieldPath(path, "dataset"), "must be set");
  POLYTRAIN_RETURN_IF_ERROR(ValidateDataset(spec.dataset(), FieldPath(path, "dataset")));
  const SampleShapeBound samples = SubmittedSampleShape(spec.model(), spec.dataset());
  if ((spec.model().has_cnn() || spec.model().has_resnet()) && samples.sample_shape.size() != 3) {
    // As the worker would refuse it, in its words (synthetic samples are vectors).
    return InvalidField(FieldPath(path, spec.model().has_cnn() ? "model.cnn" : "model.resnet"),
                        absl::StrCat("needs image samples [C, H, W]; this dataset's samples are [",
                                     absl::StrJoin(samples.sample_shape, ", "), "]"));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckModelSize(spec.model(), samples.sample_shape, samples.classes,
                                           FieldPath(path, "model")));
  if (check_loss) {
    const std::string loss = FieldPath(path, "loss");
    if (!spec.has_loss()) return InvalidField(loss, "must be set");
    POLYTRAIN_RETURN_IF_ERROR(ValidateTrainingLoss(spec.loss(), loss, loss_config));
    POLYTRAIN_RETURN_IF_ERROR(CheckLossFitsDataset(spec.loss(), loss, spec.dataset()));
  }
  if (!spec.has_optimizer()) return InvalidField(FieldPath(path, "optimizer"), "must be set");
  POLYTRAIN_RETURN_IF_ERROR(ValidateOptimizer(spec.optimizer(), FieldPath(path, "optimizer")));
  POLYTRAIN_RETURN_IF_ERROR(ValidateSchedule(spec.schedule(), FieldPath(path, "schedule")));

  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(path, "epochs"), spec.epochs(), 0, kMaxEpochs));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "max_steps"), spec.max_steps(), 0, kMaxSteps));
  if (spec.epochs() == 0 && spec.max_steps() == 0) {
    return InvalidField(FieldPath(path, "epochs"), "set epochs or max_steps (both are 0)");
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "batch_size"), spec.batch_size(), 1, kMaxBatchSize));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "log_every_steps"), spec.log_every_steps(), 0, 1'000'000));

  const std::string eval = FieldPath(path, "eval");
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(eval, "every_epochs"), spec.eval().every_epochs(), 0, kMaxEpochs));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(eval, "every_steps"), spec.eval().every_steps(), 0, kMaxSteps));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(eval, "batch_size"), spec.eval().batch_size(), 0, kMaxBatchSize));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(eval, "calibration_bins"), spec.eval().calibration_bins(), 0, 1000));

  const std::string ckpt = FieldPath(path, "checkpoint");
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(ckpt, "every_epochs"),
                                          spec.checkpoint().every_epochs(), 0, kMaxEpochs));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(ckpt, "every_steps"), spec.checkpoint().every_steps(), 0, kMaxSteps));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(ckpt, "keep_last"), spec.checkpoint().keep_last(), 0, 1000));
  POLYTRAIN_RETURN_IF_ERROR(ValidateEvalMetric(FieldPath(ckpt, "keep_best_by"),
                                               spec.checkpoint().keep_best_by(), spec.dataset(),
                                               FieldPath(path, "dataset"), /*own_loss=*/true));

  if (!polytrain::v1::Device_IsValid(spec.device())) {
    return InvalidField(FieldPath(path, "device"), absl::StrCat("unknown value ", spec.device()));
  }
  if (!polytrain::v1::Precision_IsValid(spec.precision())) {
    return InvalidField(FieldPath(path, "precision"),
                        absl::StrCat("unknown value ", spec.precision()));
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "threads"), spec.threads(), 0, kMaxThreads));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "priority"), spec.priority(), -kMaxPriority, kMaxPriority));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "max_attempts"), spec.max_attempts(), 0, kMaxAttempts));
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange(FieldPath(path, "time_limit_seconds"),
                                          spec.time_limit_seconds(), 0, kMaxTimeLimitSeconds));
  POLYTRAIN_RETURN_IF_ERROR(
      CheckIntRange(FieldPath(path, "replicas"), spec.replicas(), 0, kMaxReplicas));
  if (spec.replicas() > 1 && spec.batch_size() % spec.replicas() != 0) {
    return InvalidField(
        FieldPath(path, "batch_size"),
        absl::StrCat(spec.batch_size(), " is not a multiple of replicas (", spec.replicas(),
                     "): each replica takes batch_size / replicas"));
  }
  return CheckKnownDropLast(spec, path);  // drop_last is the spec's last field
}

}  // namespace

absl::Status ValidateLabelKey(absl::string_view field, absl::string_view key) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, key, 1, kMaxLabelKeyLength));
  if (!AllCharsIn(key, "._-/") || key != absl::AsciiStrToLower(key)) {
    return InvalidField(field, "keys use only [a-z0-9._-/]");
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelMap(const google::protobuf::Map<std::string, std::string>& labels,
                              const std::string& path) {
  if (labels.size() > kMaxLabels) {
    return InvalidField(path, absl::StrCat("at most ", kMaxLabels, " labels, got ", labels.size()));
  }
  for (const auto& [key, value] : labels) {
    const std::string field = MapKeyPath(path, key);
    POLYTRAIN_RETURN_IF_ERROR(ValidateLabelKey(field, key));
    POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, value, 0, kMaxLabelValueLength));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrainingLoss(const polytrain::v1::LossSpec& loss, absl::string_view path,
                                  loss::LossConfig* config) {
  absl::StatusOr<loss::LossConfig> canonical = loss::ToLossConfig(loss, path);
  if (!canonical.ok()) return canonical.status();
  // Training backpropagates one number per step; per-sample losses are for inspection
  // (polyloss eval), not for a job.
  if (canonical->reduction == loss::Reduction::kNone) {
    return InvalidField(FieldPath(path, "reduction"),
                        "a training job needs REDUCTION_MEAN or REDUCTION_SUM, got REDUCTION_NONE");
  }
  if (config != nullptr) *config = *std::move(canonical);
  return absl::OkStatus();
}

absl::Status ValidateJobSpec(const JobSpec& spec, absl::string_view path,
                             loss::LossConfig* loss_config) {
  return ValidateSpec(spec, std::string(path), /*check_loss=*/true, loss_config);
}

absl::Status ValidateSweepBase(const JobSpec& spec, absl::string_view path) {
  return ValidateSpec(spec, std::string(path), /*check_loss=*/false, nullptr);
}

absl::Status ValidateJobName(absl::string_view name, absl::string_view field) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, name, 1, kMaxNameLength));
  if (!AllCharsIn(name, "._-")) {
    return InvalidField(field, absl::StrCat("use only [A-Za-z0-9._-], got ", Quote(name)));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
