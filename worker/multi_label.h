// Multi-label targets: a [N, C] tensor file's train_y, each sample's row of C binary targets (0
// or 1, or soft in [0, 1]) for a sigmoid loss, each logit its own decision. How a job checks
// them and how the model's decisions are scored against them, in training's window and in
// evaluation alike: a label is predicted present when its logit is above 0 (p > 0.5) and is
// present when its target is at least 0.5; an element equal to the loss's ignore_index has no
// target and is not scored.
#ifndef POLYTRAIN_WORKER_MULTI_LABEL_H_
#define POLYTRAIN_WORKER_MULTI_LABEL_H_

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "loss/core/loss_config.h"
#include "worker/dataset.h"

namespace polytrain {

// Whether a split's targets are multi-label rows ([N, C]) rather than class indices ([N]).
inline bool IsMultiLabel(const torch::Tensor& targets) { return targets.dim() == 2; }

// A job on multi-label data: its loss must be a sigmoid loss, and every target lie in [0, 1] or
// equal the loss's ignore_index. INVALID_ARGUMENT naming spec.loss.activation or the data's field
// otherwise. validation_from_train: the validation split was drawn from train_y.
absl::Status CheckMultiLabelJob(const loss::LossConfig& config, const Dataset& data,
                                bool validation_from_train);

// A batch's decisions, on the logits' device.
struct LabelDecisions {
  torch::Tensor predicted;  // bool [B, C]: logit > 0
  torch::Tensor present;    // bool [B, C]: target >= 0.5
  torch::Tensor kept;       // bool [B, C]: the target is not the ignored value
  // bool [B, C]: a kept element whose prediction is its target
  torch::Tensor Hits() const { return predicted.eq(present).logical_and(kept); }
};

LabelDecisions DecideLabels(const torch::Tensor& logits, const torch::Tensor& targets,
                            std::optional<int64_t> ignored);

// An evaluation's scores over multi-label batches, summed on the device (selecting the kept
// elements syncs once per batch) and read by Report.
// Every score counts only the elements the loss does not ignore.
class MultiLabelScores {
 public:
  MultiLabelScores(int64_t labels, int calibration_bins, std::optional<int64_t> ignored,
                   const torch::Device& device);

  // One batch: float64 logits and float32 targets, both [B, labels] on the device.
  void Add(const torch::Tensor& logits, const torch::Tensor& targets);

  // <prefix> with: accuracy (the label decisions right), exact_match (the rows whose every
  // decision is right), f1 (micro-averaged over the labels: 2 TP / (2 TP + FP + FN)), ece (the
  // calibration of each decision's confidence, max(p, 1 - p)), nll (the binary cross-entropy of
  // the targets, summed over a row's labels and averaged over `rows`) and, with per_class,
  // class_accuracy/<k> for each label k. With every element ignored only nll is reported; f1 is
  // 1 where no label is present nor predicted (every decision right).
  void Report(const std::string& prefix, int64_t rows, bool per_class,
              std::map<std::string, double>& out) const;

 private:
  const int bins_;
  const std::optional<int64_t> ignored_;
  torch::Tensor label_hits_, label_kept_;                             // int64 [labels]
  torch::Tensor exact_rows_, scored_rows_;                            // int64 []
  torch::Tensor true_positives_, false_positives_, false_negatives_;  // int64 []
  torch::Tensor nll_sum_;                                             // float64 []
  torch::Tensor bin_correct_, bin_confidence_;                        // float64 [bins]
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_MULTI_LABEL_H_
