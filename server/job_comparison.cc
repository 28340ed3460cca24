#include "server/job_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/limits.h"
#include "api/loss_search.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "server/run_statistics.h"

namespace polytrain {
namespace {

using polytrain::v1::CompareJobsResponse;
using polytrain::v1::MetricPoint;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Mib(int64_t bytes) { return absl::StrFormat("%.1f MiB", bytes / 1048576.0); }

// Indices of at most `limit` evenly spaced elements of n, always keeping the last.
std::vector<size_t> Downsample(size_t n, size_t limit) {
  std::vector<size_t> keep;
  if (n <= limit) {
    for (size_t i = 0; i < n; ++i) keep.push_back(i);
    return keep;
  }
  if (limit == 1) return {n - 1};  // the last alone (and no division by limit - 1 = 0)
  for (size_t k = 0; k < limit; ++k) keep.push_back(k * (n - 1) / (limit - 1));
  return keep;
}

}  // namespace

ComparisonBuilder::ComparisonBuilder(std::string metric, int curve_points, std::string group_by)
    : curve_points_(curve_points == 0 ? kDefaultCurvePoints : static_cast<size_t>(curve_points)) {
  if (metric.empty()) metric = "eval_accuracy";
  lower_better_ = LowerIsBetter(metric);
  response_.set_metric(std::move(metric));
  response_.set_group_by(std::move(group_by));
}

std::string ComparisonBuilder::GroupOf(const polytrain::v1::Job& job) const {
  if (response_.group_by().empty()) return "";
  auto label = job.spec().labels().find(response_.group_by());
  return label == job.spec().labels().end() ? "" : label->second;
}

void ComparisonBuilder::Add(const polytrain::v1::Job& job, const std::vector<MetricPoint>& points) {
  const std::string& metric = response_.metric();
  auto* row = response_.add_jobs();
  row->set_job_id(job.id());
  row->set_name(job.spec().name());
  row->set_loss_name(job.loss_name());
  const RowKey key(GroupOf(job), job.loss_name());
  row->set_group(key.first);
  row->set_state(job.state());
  row->set_seed(job.spec().seed());
  *row->mutable_final_metrics() = job.final_metrics();
  if (job.has_start_time() && job.has_end_time()) {
    row->set_seconds(
        google::protobuf::util::TimeUtil::DurationToNanoseconds(job.end_time() - job.start_time()) /
        1e9);
  }
  double last = kNaN, best = kNaN;
  auto* curve = response_.add_curves();
  curve->set_job_id(job.id());
  curve->set_loss_name(job.loss_name());
  std::vector<const MetricPoint*> evals, trains;
  for (const auto& [key, value] : job.final_metrics()) reported_.insert(key);
  for (const MetricPoint& p : points) {
    if (p.kind() == MetricPoint::KIND_EVAL) {
      for (const auto& [key, value] : p.values()) reported_.insert(key);
    }
    if (p.kind() == MetricPoint::KIND_EVAL && p.values().count(metric) != 0) {
      const double v = p.values().at(metric);
      last = v;
      if (std::isnan(best) || (lower_better_ ? v < best : v > best)) best = v;
      evals.push_back(&p);
    } else if (p.kind() == MetricPoint::KIND_TRAIN && p.values().count("loss") != 0) {
      trains.push_back(&p);
    }
  }
  auto final_metric = job.final_metrics().find(metric);
  if (final_metric != job.final_metrics().end()) last = final_metric->second;
  row->set_final_value(last);
  row->set_best_value(best);
  for (size_t i : Downsample(evals.size(), curve_points_)) {
    curve->add_eval_steps(evals[i]->step());
    curve->add_eval_values(evals[i]->values().at(metric));
  }
  for (size_t i : Downsample(trains.size(), curve_points_)) {
    curve->add_train_steps(trains[i]->step());
    curve->add_train_loss(trains[i]->values().at("loss"));
  }

  if (std::find(loss_order_.begin(), loss_order_.end(), key.second) == loss_order_.end()) {
    loss_order_.push_back(key.second);
  }
  if (std::find(group_order_.begin(), group_order_.end(), key.first) == group_order_.end()) {
    group_order_.push_back(key.first);
  }
  rows_.insert(key);
  // Only finite values enter the statistics: one infinite run would make every interval
  // and test of its loss meaningless (NaN degrees of freedom).
  if (job.state() == polytrain::v1::JOB_STATE_SUCCEEDED && std::isfinite(last)) {
    finals_[key].push_back(last);
    if (std::isfinite(best)) bests_[key].push_back(best);
    auto ece = job.final_metrics().find("eval_ece");
    if (ece != job.final_metrics().end() && std::isfinite(ece->second)) {
      eces_[key].push_back(ece->second);
    }
  }
}

absl::StatusOr<CompareJobsResponse> ComparisonBuilder::Build(std::string baseline) && {
  const std::string& metric = response_.metric();
  // Jobs that have reported nothing yet (still queued) cannot tell a misspelt metric.
  if (!reported_.empty() && reported_.count(metric) == 0) {
    // Per-class values ("eval_class_accuracy/3") are counted, not listed: there may be
    // thousands.
    std::vector<std::string> names;
    std::string per_class;
    int other_count = 0, per_class_count = 0;
    for (const std::string& name : reported_) {
      if (name.find('/') != std::string::npos) {
        if (per_class_count++ == 0) per_class = name;
      } else if (names.size() < 12) {
        names.push_back(name);
      } else {
        ++other_count;
      }
    }
    std::vector<std::string> parts;
    if (!names.empty()) {
      parts.push_back(
          absl::StrCat(absl::StrJoin(names, ", "),
                       other_count == 0 ? "" : absl::StrCat(" and ", other_count, " more")));
    }
    if (per_class_count > 0) {
      parts.push_back(per_class_count == 1
                          ? absl::StrCat("1 per-class value, ", per_class)
                          : absl::StrCat(per_class_count, " per-class values such as ", per_class));
    }
    return absl::InvalidArgumentError(absl::StrCat("metric: no job reports ", Quote(metric),
                                                   " (they report: ", absl::StrJoin(parts, "; "),
                                                   ")"));
  }
  if (baseline.empty() && !loss_order_.empty()) {
    // Cross-entropy if it was run, else the first loss that has a final value: a baseline of no
    // runs (a failed job's loss, a cancelled search's) would leave every p-value out.
    auto has_runs = [&](const std::string& loss) {
      for (const std::string& group : group_order_) {
        auto it = finals_.find(RowKey(group, loss));
        if (it != finals_.end() && !it->second.empty()) return true;
      }
      return false;
    };
    const bool has_ce =
        std::find(loss_order_.begin(), loss_order_.end(), "ce") != loss_order_.end();
    auto with_runs = std::find_if(loss_order_.begin(), loss_order_.end(), has_runs);
    baseline = has_ce && (has_runs("ce") || with_runs == loss_order_.end()) ? "ce"
               : with_runs != loss_order_.end()                             ? *with_runs
                                                                            : loss_order_.front();
  } else if (!baseline.empty() &&
             std::find(loss_order_.begin(), loss_order_.end(), baseline) == loss_order_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("baseline_loss: no job has loss ", Quote(baseline),
                     " (losses: ", absl::StrJoin(loss_order_, ", "), ")"));
  }
  response_.set_baseline_loss(baseline);
  // Accuracies, F1 and calibration errors lie in [0, 1]: a t interval of a few runs may reach
  // past either end, where no run could be; it is cut there.
  const bool unit_range = absl::StrContains(response_.metric(), "accuracy") ||
                          absl::EndsWith(response_.metric(), "_ece") ||
                          absl::EndsWith(response_.metric(), "_exact_match") ||
                          absl::EndsWith(response_.metric(), "_f1");
  for (const std::string& group : group_order_) {
    for (const std::string& loss : loss_order_) {
      const RowKey key(group, loss);
      if (rows_.count(key) == 0) continue;
      const SampleSummary s = Summarize(finals_[key]);
      auto* row = response_.add_losses();
      row->set_loss_name(loss);
      row->set_group(group);
      row->set_runs(s.n);
      row->set_mean(s.mean);
      row->set_std(s.std);
      row->set_ci95_low(unit_range && s.ci95_low < 0.0 ? 0.0 : s.ci95_low);
      row->set_ci95_high(unit_range && s.ci95_high > 1.0 ? 1.0 : s.ci95_high);
      row->set_baseline(loss == baseline);
      // Against the baseline of the same group (none: NaN, as for a baseline of one run).
      row->set_p_value(loss == baseline
                           ? kNaN
                           : WelchTTestPValue(finals_[key], finals_[RowKey(group, baseline)]));
      row->set_mean_best(Summarize(bests_[key]).mean);
      row->set_mean_ece(Summarize(eces_[key]).mean);
    }
  }
  return std::move(response_);
}

absl::Status CheckComparisonFits(const CompareJobsResponse& response, int64_t limit) {
  const int64_t bytes = static_cast<int64_t>(response.ByteSizeLong());
  if (bytes <= limit) return absl::OkStatus();
  int64_t curve_bytes = 0, longest_curve = 0;
  for (const auto& curve : response.curves()) {
    curve_bytes += static_cast<int64_t>(curve.ByteSizeLong());
    longest_curve = std::max<int64_t>(longest_curve,
                                      std::max(curve.eval_steps_size(), curve.train_steps_size()));
  }
  const int64_t rest = bytes - curve_bytes;  // the rows, which shorter curves do not shrink
  const int64_t fit = rest < limit / 2 ? longest_curve * (limit - rest) / curve_bytes : 0;
  if (fit >= 1) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "curve_points: the comparison of ", response.jobs_size(), " jobs is ", Mib(bytes),
        " with curves of up to ", longest_curve, " points, over the ", Mib(limit),
        " limit; ask for at most ", fit, " curve points, or compare fewer jobs"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "job_ids: the comparison of ", response.jobs_size(), " jobs is ", Mib(bytes), ", over the ",
      Mib(limit), " limit even with shorter curves; compare fewer jobs"));
}

}  // namespace polytrain
