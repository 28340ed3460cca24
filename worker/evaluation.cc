#include "worker/evaluation.h"

#include <cmath>
#include <optional>
#include <vector>

#include "api/limits.h"
#include "worker/autocast_scope.h"
#include "worker/loss_denominator.h"
#include "worker/multi_label.h"

namespace polytrain {

torch::Tensor LossTargets(const loss::PolyLoss& loss, const torch::Tensor& labels, int64_t classes,
                          torch::ScalarType dtype) {
  if (loss.config().activation == loss::Activation::kSigmoid) {
    return IsMultiLabel(labels) ? labels.to(dtype) : torch::one_hot(labels, classes).to(dtype);
  }
  return labels;
}

std::map<std::string, double> Evaluate(TrainableModel& model, const Split& split, int64_t classes,
                                       const loss::PolyLoss& per_sample_loss,
                                       const EvalOptions& options, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  model.SetTraining(false);
  const int64_t n = split.size();
  const bool sigmoid = per_sample_loss.config().activation == loss::Activation::kSigmoid;
  const int bins = options.calibration_bins;
  double loss_sum = 0.0;
  torch::Tensor nll_total;
  std::vector<double> class_total(classes, 0.0), class_correct(classes, 0.0);
  std::vector<double> bin_count(bins, 0.0), bin_correct(bins, 0.0), bin_confidence(bins, 0.0);
  // Accuracy, per-class accuracy and calibration skip the rows the loss ignores; eval_nll covers
  // every row.
  const bool multi_label = IsMultiLabel(split.y);
  const std::optional<int64_t> ignored_row_label = IgnoredRowLabel(per_sample_loss.config());
  const bool skips_ignored = ignored_row_label.has_value();
  const int64_t ignored = skips_ignored ? *ignored_row_label : 0;
  int64_t scored = 0;
  std::optional<MultiLabelScores> multi_label_scores;
  if (multi_label) {
    multi_label_scores.emplace(classes, bins,
                               UnscoredTarget(per_sample_loss.config(), /*multi_label=*/true),
                               options.device);
  }

  for (int64_t start = 0; start < n; start += options.batch_size) {
    const int64_t len = std::min(options.batch_size, n - start);
    const torch::Tensor x = split.x.narrow(0, start, len).to(options.device);
    const torch::Tensor y = split.y.narrow(0, start, len).to(options.device);
    torch::Tensor logits;
    {
      AutocastScope autocast(options.device, options.precision);
      logits = model.Forward(x);
    }
    // Half-precision logits (a model's own .half(), or autocast's bfloat16) are evaluated in
    // float32, as the loss computes them: LibTorch has no CPU softmax for float16.
    if (logits.scalar_type() == torch::kBFloat16 || logits.scalar_type() == torch::kHalf) {
      logits = logits.to(torch::kFloat);
    }
    const torch::Tensor losses =
        per_sample_loss(logits, LossTargets(per_sample_loss, y, classes, logits.scalar_type()));
    // Summed in double, as training's reduction is: a float32 sum of large finite losses could
    // overflow to inf and call a model diverged whose loss is finite.
    loss_sum += losses.sum(torch::kDouble).item<double>();
    // The negative log-likelihood of the true class (for a sigmoid model, of the one-hot
    // target), in float64: the same measure whatever loss trained the model.
    const torch::Tensor scores = logits.to(torch::kDouble);
    if (multi_label) {
      multi_label_scores->Add(scores, y);
      continue;
    }
    const torch::Tensor nll =
        sigmoid
            ? torch::binary_cross_entropy_with_logits(
                  scores, torch::one_hot(y, classes).to(torch::kDouble), {}, {}, at::Reduction::Sum)
            : torch::nll_loss(torch::log_softmax(scores, 1), y, {}, at::Reduction::Sum);
    // Summed on the device and read once after the last batch: no extra sync per batch.
    nll_total = nll_total.defined() ? nll_total + nll : nll;

    // The prediction is the largest logit (softmax and sigmoid are both monotone), and its
    // confidence its probability in float64: in float32 every sigmoid of a logit above ~16.6 is
    // 1.0, so two confident classes tied and the lower index won.
    const auto [top_logit, predicted] = scores.max(1);
    const torch::Tensor confidence =
        sigmoid ? torch::sigmoid(top_logit) : torch::exp(top_logit - torch::logsumexp(scores, 1));
    const torch::Tensor correct = predicted.eq(y);
    // Bins [b/B, (b+1)/B), a confidence of 1 in the last (the cast truncates, and confidences
    // are >= 0).
    const torch::Tensor bin =
        (confidence * bins).to(torch::kLong).clamp(0, bins - 1).to(torch::kCPU);
    const torch::Tensor y_cpu = y.to(torch::kCPU);
    const torch::Tensor correct_cpu = correct.to(torch::kCPU);
    const torch::Tensor confidence_cpu = confidence.to(torch::kCPU, torch::kDouble);
    const int64_t* bin_data = bin.data_ptr<int64_t>();
    const int64_t* label = y_cpu.data_ptr<int64_t>();
    const bool* hit = correct_cpu.data_ptr<bool>();
    const double* conf = confidence_cpu.data_ptr<double>();
    for (int64_t i = 0; i < len; ++i) {
      // The loss ignores it: no target to score against.
      if (skips_ignored && label[i] == ignored) continue;
      ++scored;
      class_total[label[i]] += 1;
      class_correct[label[i]] += hit[i] ? 1 : 0;
      bin_count[bin_data[i]] += 1;
      bin_correct[bin_data[i]] += hit[i] ? 1 : 0;
      bin_confidence[bin_data[i]] += conf[i];
    }
  }
  model.SetTraining(true);

  std::map<std::string, double> out;
  const bool per_class = classes <= kMaxClassesWithPerClassMetrics;
  // A split whose denominator is 0 (every row ignored) has loss 0, as such a batch has.
  const double denominator =
      options.reduction == loss::Reduction::kMean
          ? MeanDenominators(per_sample_loss.config(), split.y, classes).sum().item<double>()
          : static_cast<double>(n);
  out[prefix + "loss"] = denominator > 0 ? loss_sum / denominator : 0.0;
  if (multi_label) {
    multi_label_scores->Report(prefix, n, per_class, out);
    return out;
  }
  double correct_total = 0.0, ece = 0.0;
  for (int64_t k = 0; k < classes; ++k) {
    correct_total += class_correct[k];
    if (per_class && class_total[k] > 0) {
      out[prefix + "class_accuracy/" + std::to_string(k)] = class_correct[k] / class_total[k];
    }
  }
  for (int b = 0; b < bins; ++b) {
    if (bin_count[b] > 0) {
      ece += std::fabs(bin_correct[b] - bin_confidence[b]) / static_cast<double>(scored);
    }
  }
  const double nll_sum = nll_total.defined() ? nll_total.item<double>() : 0.0;
  out[prefix + "nll"] = n > 0 ? nll_sum / static_cast<double>(n) : 0.0;
  if (scored > 0) {  // a split of ignored rows only has nothing to score
    out[prefix + "accuracy"] = correct_total / static_cast<double>(scored);
    out[prefix + "ece"] = ece;
  }
  return out;
}

}  // namespace polytrain
