// What a loss search ranks its trials by, and a job its checkpoints by
// (spec.checkpoint.keep_best_by): a metric an evaluation reports (worker/evaluation.cc), which
// way is better, and how values compare (NaN, a value not measured, last).
#ifndef POLYTRAIN_API_SEARCH_METRIC_H_
#define POLYTRAIN_API_SEARCH_METRIC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

inline constexpr char kDefaultSearchMetric[] = "eval_accuracy";

// search.metric: eval_ or val_ with nll, accuracy, ece, class_accuracy/<k> or (reported for
// multi-label data) exact_match or f1 ("" is
// kDefaultSearchMetric); val_ only where there is a validation split to evaluate. Not loss:
// each trial's own loss is on the scale of that loss. INVALID_ARGUMENT naming search.metric.
absl::Status ValidateSearchMetric(const polytrain::v1::SubmitSweepRequest& request);
// `metric` ("" passes) names a value an evaluation of `data` (the field `data_field`) reports, as
// search.metric's rule says; `own_loss`: eval_loss and val_loss too (one job's checkpoints are
// ranked on one loss's scale). INVALID_ARGUMENT naming `field`.
absl::Status ValidateEvalMetric(absl::string_view field, const std::string& metric,
                                const polytrain::v1::DatasetSpec& data,
                                absl::string_view data_field, bool own_loss);
// The ranked metric with "" read as kDefaultSearchMetric.
std::string SearchMetric(const polytrain::v1::SubmitSweepRequest& request);
// Whether a lower value of `metric` is better (*_loss, *_nll, *_ece).
bool LowerIsBetter(absl::string_view metric);
// Whether metric value `a` ranks before `b`: the better one (the lower with `lower_is_better`),
// and any number before NaN (a value not measured).
bool RanksBefore(double a, double b, bool lower_is_better);

}  // namespace polytrain

#endif  // POLYTRAIN_API_SEARCH_METRIC_H_
