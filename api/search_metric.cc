#include "api/search_metric.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/job_spec.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace polytrain {

using polytrain::v1::SubmitSweepRequest;

absl::Status ValidateSearchMetric(const SubmitSweepRequest& request) {
  return ValidateEvalMetric("search.metric", request.search().metric(), request.base().dataset(),
                            "base.dataset", /*own_loss=*/false);
}

absl::Status ValidateEvalMetric(absl::string_view field, const std::string& metric,
                                const polytrain::v1::DatasetSpec& data,
                                absl::string_view data_field, bool own_loss) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, metric, 0, kMaxValueNameLength));
  if (metric.empty()) return absl::OkStatus();
  const bool validation = absl::StartsWith(metric, "val_");
  absl::string_view key = metric;  // exactly one prefix: "eval_val_accuracy" is no key
  const bool prefixed = absl::ConsumePrefix(&key, "eval_") || absl::ConsumePrefix(&key, "val_");
  absl::string_view class_index = key;
  const bool per_class = absl::ConsumePrefix(&class_index, "class_accuracy/") &&
                         !class_index.empty() && class_index.size() <= 5 &&
                         std::all_of(class_index.begin(), class_index.end(), absl::ascii_isdigit);
  const bool known = prefixed && (key == "loss" || key == "nll" || key == "accuracy" ||
                                  key == "ece" || key == "exact_match" || key == "f1" || per_class);
  // Evaluations name classes as "class_accuracy/7" (no leading zero), and only for tasks of at
  // most kMaxClassesWithPerClassMetrics classes: any other index is never reported.
  int index = 0;
  if (known && per_class &&
      ((class_index.size() > 1 && class_index[0] == '0') ||
       !absl::SimpleAtoi(class_index, &index) || index >= kMaxClassesWithPerClassMetrics)) {
    return InvalidField(
        field,
        absl::StrCat(Quote(metric), " is never reported: per-class accuracies are named ",
                     "class_accuracy/0 to class_accuracy/", kMaxClassesWithPerClassMetrics - 1,
                     " (tasks of at most ", kMaxClassesWithPerClassMetrics, " classes)"));
  }
  if (!known) {
    return InvalidField(field, absl::StrCat(Quote(metric),
                                            " is no metric an evaluation reports (e.g. "
                                            "eval_accuracy, eval_nll, eval_ece, "
                                            "val_accuracy; multi-label data also "
                                            "eval_exact_match, eval_f1)"));
  }
  // Each trial's own loss: its scale is the loss's (a larger focal gamma reads smaller), so
  // ranking by it would rank the losses' scales, not the models.
  if (key == "loss" && !own_loss) {
    return InvalidField(
        field,
        absl::StrCat(Quote(metric),
                     " is each trial's own loss, whose scale differs between losses; rank by ",
                     validation ? "val_nll" : "eval_nll",
                     " (the negative log-likelihood of the true class, the same measure for "
                     "every loss) or by an accuracy"));
  }
  // Where the class count is known now, an index past it (or any, for a task with more classes
  // than per-class accuracies are reported for) would leave every trial without a value.
  if (const int64_t classes = KnownClasses(data);
      per_class && classes > 0 && (index >= classes || classes > kMaxClassesWithPerClassMetrics)) {
    return InvalidField(
        field, absl::StrCat(
                   Quote(metric), " is never reported: ", data_field, " has ", classes, " classes",
                   classes > kMaxClassesWithPerClassMetrics
                       ? absl::StrCat(" (per-class accuracies are reported for tasks of at most ",
                                      kMaxClassesWithPerClassMetrics, ")")
                       : absl::StrCat(" (class_accuracy/0 to class_accuracy/", classes - 1, ")")));
  }
  // Only a tensor file may hold multi-label targets; every other source is one class per sample.
  if ((key == "exact_match" || key == "f1") && !data.has_tensors()) {
    return InvalidField(field,
                        absl::StrCat(Quote(metric),
                                     " is reported for multi-label data (a tensor file's [N, C] "
                                     "train_y); ",
                                     data_field, " has one class per sample"));
  }
  if (validation && data.validation_fraction() <= 0.0 && !data.has_tensors()) {
    return InvalidField(field, absl::StrCat(Quote(metric), " needs a validation split: set ",
                                            data_field, ".validation_fraction"));
  }
  return absl::OkStatus();
}

std::string SearchMetric(const SubmitSweepRequest& request) {
  return request.search().metric().empty() ? kDefaultSearchMetric : request.search().metric();
}

bool RanksBefore(double a, double b, bool lower_is_better) {
  if (std::isnan(b)) return !std::isnan(a);
  if (std::isnan(a)) return false;
  return lower_is_better ? a < b : a > b;
}

bool LowerIsBetter(absl::string_view metric) {
  return absl::EndsWith(metric, "loss") || absl::EndsWith(metric, "nll") ||
         absl::EndsWith(metric, "ece");
}

}  // namespace polytrain
