#include "worker/multi_label.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/validation.h"

namespace polytrain {

absl::Status CheckMultiLabelJob(const loss::LossConfig& config, const Dataset& data,
                                bool validation_from_train) {
  // A single label per row is more often class indices saved as a column ([N, 1]) than one
  // binary task, and rows of one 1 each are one class per sample saved one-hot (probe DH).
  std::string column_hint;
  if (data.classes == 1) {
    column_hint = " (class indices? save train_y as [N], not [N, 1])";
  } else if (config.activation != loss::Activation::kSigmoid &&
             data.train.y.eq(0).logical_or(data.train.y.eq(1)).all().item<bool>() &&
             data.train.y.sum(1).eq(1).all().item<bool>()) {
    column_hint =
        "; or, as its rows of one 1 each say one class per sample, save them as class "
        "indices: train_y.argmax(1)";
  }
  if (config.activation != loss::Activation::kSigmoid) {
    return InvalidField(
        "spec.loss.activation",
        absl::StrCat("a softmax loss takes one class per sample, and the train_y of ", data.field,
                     " holds multi-label targets [", absl::StrJoin(data.train.y.sizes(), ", "),
                     "]: set activation: ACTIVATION_SIGMOID", column_hint));
  }
  // 0 and 1 are what the targets say: ignoring either leaves the model one kind of target.
  if (config.ignore_index && (*config.ignore_index == 0 || *config.ignore_index == 1)) {
    return InvalidField(
        "spec.loss.ignore_index",
        absl::StrCat("is ", *config.ignore_index, ", a target of multi-label data: every ",
                     *config.ignore_index == 1 ? "present" : "absent",
                     " label would be ignored; mark unknown targets with another value, e.g. -1"));
  }
  if (config.ignore_index &&
      !data.train.y.ne(static_cast<double>(*config.ignore_index)).any().item<bool>()) {
    return InvalidField(data.field, absl::StrCat("every target of train_y equals "
                                                 "spec.loss.ignore_index (",
                                                 *config.ignore_index, "): nothing to train on"));
  }
  const std::pair<const char*, const Split*> splits[] = {
      {"train_y", &data.train},
      {validation_from_train ? "train_y" : "val_y", &data.validation},
      {"test_y", &data.test}};
  for (const auto& [key, split] : splits) {
    if (split->size() == 0) continue;
    const torch::Tensor& y = split->y;
    torch::Tensor wrong = y.lt(0).logical_or(y.gt(1));
    if (config.ignore_index) {
      wrong.logical_and_(y.ne(static_cast<double>(*config.ignore_index)));
    }
    if (!wrong.any().item<bool>()) continue;
    const torch::Tensor first = wrong.nonzero()[0].to(torch::kCPU);
    const int64_t label = first[1].item<int64_t>();
    return InvalidField(
        data.field,
        absl::StrCat(
            key, " holds the target ", y[first[0]][label].item<double>(), " (label ", label,
            "); multi-label targets lie in [0, 1]",
            config.ignore_index
                ? absl::StrCat(" or equal spec.loss.ignore_index (", *config.ignore_index, ")")
                : " (a value meaning \"unknown\" needs spec.loss.ignore_index)",
            column_hint));
  }
  return absl::OkStatus();
}

LabelDecisions DecideLabels(const torch::Tensor& logits, const torch::Tensor& targets,
                            std::optional<int64_t> ignored) {
  LabelDecisions decisions;
  decisions.predicted = logits.gt(0);
  decisions.present = targets.ge(0.5);
  decisions.kept =
      ignored ? targets.ne(static_cast<double>(*ignored)) : torch::ones_like(decisions.predicted);
  return decisions;
}

MultiLabelScores::MultiLabelScores(int64_t labels, int calibration_bins,
                                   std::optional<int64_t> ignored, const torch::Device& device)
    : bins_(calibration_bins), ignored_(ignored) {
  const auto counts = torch::TensorOptions().dtype(torch::kLong).device(device);
  const auto sums = torch::TensorOptions().dtype(torch::kDouble).device(device);
  label_hits_ = torch::zeros({labels}, counts);
  label_kept_ = torch::zeros({labels}, counts);
  for (torch::Tensor* count :
       {&exact_rows_, &scored_rows_, &true_positives_, &false_positives_, &false_negatives_}) {
    *count = torch::zeros({}, counts);
  }
  nll_sum_ = torch::zeros({}, sums);
  for (torch::Tensor* bin : {&bin_correct_, &bin_confidence_}) {
    *bin = torch::zeros({bins_}, sums);
  }
}

void MultiLabelScores::Add(const torch::Tensor& logits, const torch::Tensor& targets) {
  const LabelDecisions d = DecideLabels(logits, targets, ignored_);
  const torch::Tensor hits = d.Hits();
  label_hits_ += hits.sum(0);
  label_kept_ += d.kept.sum(0);
  // A row is scored when it has a target; it is an exact match when every target is hit.
  const torch::Tensor scored = d.kept.any(1);
  exact_rows_ += scored.logical_and(hits.eq(d.kept).all(1)).sum();
  scored_rows_ += scored.sum();
  const torch::Tensor predicted = d.predicted.logical_and(d.kept);
  const torch::Tensor present = d.present.logical_and(d.kept);
  true_positives_ += predicted.logical_and(present).sum();
  false_positives_ += predicted.logical_and(present.logical_not()).sum();
  false_negatives_ += present.logical_and(predicted.logical_not()).sum();
  // An ignored element's value is no probability: 0 in its place, and weight 0.
  const torch::Tensor kept = d.kept.to(torch::kDouble);
  nll_sum_ += torch::binary_cross_entropy_with_logits(logits, targets.to(torch::kDouble) * kept,
                                                      kept, {}, at::Reduction::Sum);
  // The confidence of a decision is the probability of what it decided, in float64 (in float32
  // every sigmoid of a logit above ~16.6 is 1.0). Bins [b/B, (b+1)/B), 1 in the last.
  const torch::Tensor confidence = torch::sigmoid(logits.abs()).masked_select(d.kept);
  const torch::Tensor bin = (confidence * bins_).to(torch::kLong).clamp(0, bins_ - 1);
  // index_put_ with accumulate, not bincount with weights: it has a deterministic CUDA kernel,
  // and a worker's deterministic jobs make every job's algorithms deterministic.
  bin_correct_.index_put_({bin}, hits.masked_select(d.kept).to(torch::kDouble),
                          /*accumulate=*/true);
  bin_confidence_.index_put_({bin}, confidence, /*accumulate=*/true);
}

void MultiLabelScores::Report(const std::string& prefix, int64_t rows, bool per_class,
                              std::map<std::string, double>& out) const {
  const torch::Tensor label_hits = label_hits_.to(torch::kCPU);
  const torch::Tensor label_kept = label_kept_.to(torch::kCPU);
  const double hits = label_hits.sum().item<double>();
  const double kept = label_kept.sum().item<double>();
  out[prefix + "nll"] = rows > 0 ? nll_sum_.item<double>() / static_cast<double>(rows) : 0.0;
  if (kept == 0) return;  // nothing to score
  out[prefix + "accuracy"] = hits / kept;
  out[prefix + "exact_match"] = exact_rows_.item<double>() / scored_rows_.item<double>();
  const double tp = true_positives_.item<double>();
  const double f1_denominator =
      2 * tp + false_positives_.item<double>() + false_negatives_.item<double>();
  // Nothing present and nothing predicted: every decision right, nothing missed or made up.
  out[prefix + "f1"] = f1_denominator > 0 ? 2 * tp / f1_denominator : 1.0;
  const torch::Tensor gap = (bin_correct_ - bin_confidence_).abs().sum();
  out[prefix + "ece"] = gap.item<double>() / kept;
  if (!per_class) return;
  const auto hit_count = label_hits.accessor<int64_t, 1>();
  const auto kept_count = label_kept.accessor<int64_t, 1>();
  for (int64_t k = 0; k < kept_count.size(0); ++k) {
    if (kept_count[k] > 0) {
      out[prefix + "class_accuracy/" + std::to_string(k)] =
          static_cast<double>(hit_count[k]) / static_cast<double>(kept_count[k]);
    }
  }
}

}  // namespace polytrain
