// A sweep's report from its record and jobs alone: the ranking's order, and why it is empty.
#include "server/sweep_report.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

TEST(SweepReportTest, AFinalistReRunWithSeveralSeedsRanksBeforeATrialOfOneSeed) {
  polytrain::v1::SubmitSweepRequest request;
  request.set_seeds(2);
  request.mutable_search()->set_strategy(polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING);
  request.mutable_search()->set_top_k(1);
  Sweep record;
  record.set_id("sweep-1");
  *record.mutable_request() = request;
  record.set_state(Sweep::SWEEP_STATE_DONE);
  std::vector<Job> jobs;
  auto run = [&](const std::string& loss, int trial, bool rerun, double accuracy) {
    Job job;
    job.set_id("job-" + std::to_string(jobs.size()));
    job.set_loss_name(loss);
    job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
    job.mutable_search()->set_trial(trial);
    job.mutable_search()->set_rerun(rerun);
    (*job.mutable_final_metrics())["eval_accuracy"] = accuracy;
    jobs.push_back(job);
  };
  run("poly1(e=1)", 0, false, 0.80);  // reached the full budget, was no finalist: one seed
  run("poly1(e=2)", 1, false, 0.79);  // the finalist, and its re-run
  run("poly1(e=2)", 1, true, 0.78);
  run("ce", -1, true, 0.70);  // the baseline
  run("ce", -1, true, 0.71);
  const Sweep sweep = BuildSweepReport(record, jobs);
  ASSERT_EQ(sweep.ranking_size(), 3);
  EXPECT_EQ(sweep.ranking(0).loss_name(), "poly1(e=2)");
  EXPECT_EQ(sweep.ranking(1).loss_name(), "ce");
  EXPECT_EQ(sweep.ranking(2).loss_name(), "poly1(e=1)");
  EXPECT_EQ(sweep.best_loss(), "poly1(e=2)");
  EXPECT_EQ(sweep.baseline_loss(), "ce");
  EXPECT_EQ(sweep.ranking_note(), "");
  // Every run of the baseline failed: the ranking stands, without p-values, and says why.
  for (Job& job : jobs) {
    if (job.loss_name() != "ce") continue;
    job.set_state(polytrain::v1::JOB_STATE_FAILED);
    job.clear_final_metrics();
  }
  const Sweep untested = BuildSweepReport(record, jobs);
  ASSERT_EQ(untested.ranking_size(), 2);
  EXPECT_EQ(untested.baseline_loss(), "");
  EXPECT_TRUE(std::isnan(untested.ranking(0).p_value()));
  EXPECT_EQ(untested.ranking_note(),
            "no p-values: no run of the baseline loss ce succeeded at the full budget");
  // While a run of the baseline still trains, not yet.
  jobs.back().set_state(polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(BuildSweepReport(record, jobs).ranking_note(),
            "no p-values: no run of the baseline loss ce succeeded at the full budget yet");
}

TEST(SweepReportTest, AnEmptyRankingSaysWhy) {
  Sweep record;
  record.set_id("sweep-2");
  record.mutable_request()->mutable_search()->set_strategy(
      polytrain::v1::LossSearch::STRATEGY_RANDOM);
  record.mutable_request()->mutable_search()->set_metric("val_accuracy");
  record.set_state(Sweep::SWEEP_STATE_RUNNING);
  Job job;
  job.set_id("job-0");
  job.set_loss_name("poly1(e=1)");
  job.set_state(polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(BuildSweepReport(record, {job}).ranking_note(), "");  // nothing ended yet
  // A tensor file without a validation split: the runs report no val_accuracy.
  job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
  (*job.mutable_final_metrics())["eval_accuracy"] = 0.8;
  (*job.mutable_final_metrics())["eval_class_accuracy/0"] = 0.7;
  (*job.mutable_final_metrics())["eval_class_accuracy/1"] = 0.9;
  const Sweep done = BuildSweepReport(record, {job});
  EXPECT_EQ(done.state(), Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(done.ranking_size(), 0);
  EXPECT_EQ(done.ranking_note(),
            "metric: no job reports 'val_accuracy' (they report: eval_accuracy; 2 per-class "
            "values such as eval_class_accuracy/0)");
  // Only per-class values, then more names than are listed.
  job.mutable_final_metrics()->erase("eval_accuracy");
  EXPECT_EQ(BuildSweepReport(record, {job}).ranking_note(),
            "metric: no job reports 'val_accuracy' (they report: 2 per-class values such as "
            "eval_class_accuracy/0)");
  job.clear_final_metrics();
  for (int i = 10; i < 24; ++i) (*job.mutable_final_metrics())[absl::StrCat("m", i)] = 1;
  EXPECT_EQ(BuildSweepReport(record, {job}).ranking_note(),
            "metric: no job reports 'val_accuracy' (they report: m10, m11, m12, m13, m14, m15, "
            "m16, m17, m18, m19, m20, m21 and 2 more)");
  // Every run failed: the sweep ended, so not "yet".
  job.set_state(polytrain::v1::JOB_STATE_FAILED);
  job.clear_final_metrics();
  EXPECT_EQ(BuildSweepReport(record, {job}).ranking_note(), "no run succeeded at the full budget");
  // A search with runs still to come says "yet".
  Job running = job;
  running.set_id("job-1");
  running.set_state(polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(BuildSweepReport(record, {job, running}).ranking_note(),
            "no run succeeded at the full budget yet");
}

// CompareJobs of a search compares against the search's own baseline, also where it is not
// called "ce" (a sigmoid search's sigmoid_ce) and is not the first loss.
TEST_F(CoordinatorTest, ComparingASearchTakesItsBaseline) {
  polytrain::v1::SubmitSweepRequest request = SmallHalvingSearch();
  request.clear_losses();
  for (int e : {2, 1, 0}) {  // poly1 with epsilon 0 is cross-entropy, the baseline, last
    polytrain::v1::LossSpec* loss = request.add_losses();
    loss->mutable_poly1()->set_epsilon(e);
    loss->set_activation(polytrain::v1::ACTIVATION_SIGMOID);
  }
  EXPECT_EQ(SearchBaselineName(request), "sigmoid_ce");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> search = api_->SubmitSweep(request, kAdmin);
  ASSERT_TRUE(search.ok()) << search.status();
  polytrain::v1::CompareJobsRequest compare;
  compare.set_sweep_id(search->sweep_id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->baseline_loss(), "sigmoid_ce");
  compare.set_baseline_loss("sigmoid_poly1(e=2)");  // one the request names goes first
  table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->baseline_loss(), "sigmoid_poly1(e=2)");
  // A grid has no baseline of its own.
  request.clear_search();
  EXPECT_EQ(SearchBaselineName(request), "");
}

}  // namespace
}  // namespace polytrain
