// A comparison's answer checked against the message limit before it is sent.
#include "server/job_comparison.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::CompareJobsResponse;

// `jobs` rows, each with a curve of `points` eval and train points.
CompareJobsResponse Comparison(int jobs, int points) {
  CompareJobsResponse response;
  for (int j = 0; j < jobs; ++j) {
    response.add_jobs()->set_job_id("job-" + std::to_string(j));
    auto* curve = response.add_curves();
    curve->set_job_id("job-" + std::to_string(j));
    for (int p = 0; p < points; ++p) {
      curve->add_eval_steps(1000 + p);
      curve->add_eval_values(0.5);
      curve->add_train_steps(1000 + p);
      curve->add_train_loss(0.25);
    }
  }
  return response;
}

// Two runs' accuracies far apart: the t interval (12.7 standard errors wide) reaches past 0 and
// 1, where no accuracy can be; it is cut to [0, 1]. A loss's interval is left as it is.
TEST(ComparisonBuilderTest, AnAccuracysIntervalStaysWithinZeroAndOne) {
  for (const char* metric : {"eval_accuracy", "eval_nll"}) {
    ComparisonBuilder builder(metric, 0);
    for (const double value : {0.2, 0.9}) {
      polytrain::v1::Job job;
      job.set_id(absl::StrCat("job-", value * 10));
      job.set_loss_name("ce");
      job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
      (*job.mutable_final_metrics())[metric] = value;
      builder.Add(job, {});
    }
    absl::StatusOr<CompareJobsResponse> table = std::move(builder).Build("");
    ASSERT_TRUE(table.ok()) << table.status();
    const auto& row = table->losses(0);
    if (std::string(metric) == "eval_accuracy") {
      EXPECT_EQ(row.ci95_low(), 0.0);
      EXPECT_EQ(row.ci95_high(), 1.0);
    } else {
      EXPECT_LT(row.ci95_low(), 0.0);
      EXPECT_GT(row.ci95_high(), 1.0);
    }
  }
}

// The default baseline is cross-entropy when it has runs, else the first loss that has: a loss
// whose only job failed (no final value) would leave every p-value out.
TEST(ComparisonBuilderTest, TheDefaultBaselineIsALossWithRuns) {
  auto job = [](const std::string& id, const std::string& loss, polytrain::v1::JobState state,
                double accuracy) {
    polytrain::v1::Job j;
    j.set_id(id);
    j.set_loss_name(loss);
    j.set_state(state);
    if (state == polytrain::v1::JOB_STATE_SUCCEEDED) {
      (*j.mutable_final_metrics())["eval_accuracy"] = accuracy;
    }
    return j;
  };
  ComparisonBuilder failed_first("eval_accuracy", 0);
  failed_first.Add(job("job-1", "focal(g=2)", polytrain::v1::JOB_STATE_FAILED, 0), {});
  failed_first.Add(job("job-2", "poly1(e=1)", polytrain::v1::JOB_STATE_SUCCEEDED, 0.8), {});
  failed_first.Add(job("job-3", "poly1(e=1)", polytrain::v1::JOB_STATE_SUCCEEDED, 0.9), {});
  absl::StatusOr<CompareJobsResponse> table = std::move(failed_first).Build("");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->baseline_loss(), "poly1(e=1)");
  ComparisonBuilder with_ce("eval_accuracy", 0);
  with_ce.Add(job("job-1", "poly1(e=1)", polytrain::v1::JOB_STATE_SUCCEEDED, 0.8), {});
  with_ce.Add(job("job-2", "ce", polytrain::v1::JOB_STATE_SUCCEEDED, 0.7), {});
  table = std::move(with_ce).Build("");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->baseline_loss(), "ce");
}

// Grouped by a label: a row per value and loss, ordered by value, each tested against the
// baseline of its own value; a value without a baseline run has no p-value.
TEST(ComparisonBuilderTest, GroupedRowsAreTestedAgainstTheBaselineOfTheirGroup) {
  ComparisonBuilder builder("eval_accuracy", 0, "lr");
  int id = 0;
  auto add = [&](const std::string& lr, const std::string& loss, double accuracy) {
    polytrain::v1::Job job;
    job.set_id(absl::StrCat("job-", ++id));
    job.set_loss_name(loss);
    job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
    if (!lr.empty()) (*job.mutable_spec()->mutable_labels())["lr"] = lr;
    (*job.mutable_final_metrics())["eval_accuracy"] = accuracy;
    builder.Add(job, {});
  };
  // lr 0.1: poly1 well above ce; lr 0.01: both alike; no label: poly1 alone.
  for (double a : {0.80, 0.81, 0.82}) add("0.1", "ce", a);
  for (double a : {0.90, 0.91, 0.92}) add("0.1", "poly1(e=1)", a);
  for (double a : {0.70, 0.71, 0.72}) add("0.01", "poly1(e=1)", a);
  for (double a : {0.70, 0.71, 0.72}) add("0.01", "ce", a);
  add("", "poly1(e=1)", 0.5);
  add("", "poly1(e=1)", 0.6);
  absl::StatusOr<CompareJobsResponse> table = std::move(builder).Build("");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->group_by(), "lr");
  EXPECT_EQ(table->baseline_loss(), "ce");
  ASSERT_EQ(table->losses_size(), 5);
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& row : table->losses()) rows.emplace_back(row.group(), row.loss_name());
  EXPECT_EQ(rows, (std::vector<std::pair<std::string, std::string>>{{"0.1", "ce"},
                                                                    {"0.1", "poly1(e=1)"},
                                                                    {"0.01", "ce"},
                                                                    {"0.01", "poly1(e=1)"},
                                                                    {"", "poly1(e=1)"}}));
  EXPECT_EQ(table->losses(0).runs(), 3);
  EXPECT_NEAR(table->losses(1).mean(), 0.91, 1e-12);
  EXPECT_LT(table->losses(1).p_value(), 0.001);         // against lr 0.1's ce alone
  EXPECT_NEAR(table->losses(3).p_value(), 1.0, 1e-12);  // lr 0.01: the same accuracies
  EXPECT_TRUE(std::isnan(table->losses(4).p_value()));  // no ce run without the label
  EXPECT_EQ(table->jobs(0).group(), "0.1");
  EXPECT_EQ(table->jobs(12).group(), "");
}

TEST(CheckComparisonFitsTest, LongCurvesAskForFewerCurvePointsThatThenFit) {
  const CompareJobsResponse small = Comparison(10, 1000);
  const int64_t limit = static_cast<int64_t>(small.ByteSizeLong()) * 3;
  EXPECT_TRUE(CheckComparisonFits(small, limit).ok());
  const CompareJobsResponse large = Comparison(10, 5000);
  const absl::Status refused = CheckComparisonFits(large, limit);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(refused.message().find("curve_points: the comparison of 10 jobs is "), 0u) << refused;
  const size_t ask = refused.message().find("ask for at most ");
  ASSERT_NE(ask, std::string::npos) << refused;
  const int fit = std::stoi(std::string(refused.message().substr(ask + 16)));
  EXPECT_GE(fit, 2500);  // 3x the bytes of 1000 points, less the rows
  EXPECT_LT(fit, 3100);
  EXPECT_TRUE(CheckComparisonFits(Comparison(10, fit), limit).ok());
  EXPECT_FALSE(CheckComparisonFits(Comparison(10, fit + 100), limit).ok());
}

TEST(CheckComparisonFitsTest, RowsOverTheLimitWithoutCurvesAskForFewerJobs) {
  CompareJobsResponse rows = Comparison(200, 0);
  for (auto& row : *rows.mutable_jobs()) {
    for (int v = 0; v < 100; ++v) (*row.mutable_final_metrics())["value" + std::to_string(v)] = v;
  }
  const absl::Status refused = CheckComparisonFits(rows, 100 << 10);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message().find("job_ids: the comparison of 200 jobs is "), 0u) << refused;
  EXPECT_NE(refused.message().find("compare fewer jobs"), std::string::npos) << refused;
}

}  // namespace
}  // namespace polytrain
