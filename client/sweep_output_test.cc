// What polyctl prints for a sweep's ranking: the best loss, and when it is no better than the
// baseline.
#include "client/sweep_output.h"

#include <string>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

polytrain::v1::Sweep Ranked(double best_mean, double baseline_mean) {
  polytrain::v1::Sweep sweep;
  sweep.set_id("sweep-0123456789ab");
  sweep.set_baseline_loss("ce");
  sweep.set_best_loss("poly1(e=2)");
  auto* best = sweep.add_ranking();
  best->set_loss_name("poly1(e=2)");
  best->set_runs(2);
  best->set_mean(best_mean);
  best->set_p_value(best_mean == baseline_mean ? 1.0 : 0.01);
  auto* baseline = sweep.add_ranking();
  baseline->set_loss_name("ce");
  baseline->set_runs(2);
  baseline->set_mean(baseline_mean);
  baseline->set_baseline(true);
  return sweep;
}

TEST(SweepTextTest, ABestLossTiedWithTheBaselineIsSaidToBe) {
  EXPECT_NE(SweepText(Ranked(0.9, 0.8)).find("best: poly1(e=2)\n"), std::string::npos)
      << SweepText(Ranked(0.9, 0.8));
  EXPECT_NE(SweepText(Ranked(1.0, 1.0))
                .find("best: poly1(e=2) (tied with the baseline ce: equal means)\n"),
            std::string::npos)
      << SweepText(Ranked(1.0, 1.0));
  // Any loss of the same mean, not only the baseline.
  polytrain::v1::Sweep three = Ranked(0.75, 0.5);
  auto* twin = three.add_ranking();
  twin->set_loss_name("focal(g=2)");
  twin->set_mean(0.75);
  EXPECT_NE(SweepText(three).find("best: poly1(e=2) (tied with focal(g=2): equal means)\n"),
            std::string::npos)
      << SweepText(three);
  three.mutable_ranking(1)->set_mean(0.75);
  EXPECT_NE(SweepText(three).find(
                "best: poly1(e=2) (tied with the baseline ce, focal(g=2): equal means)\n"),
            std::string::npos)
      << SweepText(three);
}

// A cancelled sweep's job whose worker has not yet confirmed the stop is "stopping", not
// "running" under a sweep said to be cancelled.
TEST(SweepTextTest, ACancelledSweepsJobStillRunningIsStopping) {
  polytrain::v1::Sweep sweep;
  sweep.set_id("sweep-0123456789ab");
  sweep.set_state(polytrain::v1::Sweep::SWEEP_STATE_CANCELLED);
  auto* trial = sweep.add_trials();
  trial->set_job_id("job-0123456789ab");
  trial->set_loss_name("ce");
  trial->set_state(polytrain::v1::JOB_STATE_RUNNING);
  const std::string text = SweepText(sweep);
  EXPECT_NE(text.find("job-0123456789ab  ce"), std::string::npos) << text;
  EXPECT_NE(text.find("stopping"), std::string::npos) << text;
  EXPECT_EQ(text.find("running"), std::string::npos) << text;
}

// A sweep some of whose jobs were deleted one by one says its tables leave them out.
TEST(SweepTextTest, DeletedJobsAreSaidToBeLeftOut) {
  polytrain::v1::Sweep sweep;
  sweep.set_id("sweep-0123456789ab");
  sweep.set_state(polytrain::v1::Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(SweepText(sweep).find("deleted"), std::string::npos) << SweepText(sweep);
  sweep.set_deleted_jobs(2);
  EXPECT_NE(SweepText(sweep).find(
                "  deleted: 2 of its jobs (the rungs, jobs and ranking below leave them out)\n"),
            std::string::npos)
      << SweepText(sweep);
  // And the listing's count column marks them, with a note under the table.
  sweep.set_jobs(4);
  sweep.set_ended_jobs(4);
  polytrain::v1::ListSweepsResponse listed;
  *listed.add_sweeps() = sweep;
  const std::string table = SweepTable(listed);
  EXPECT_NE(table.find("4/4 -2"), std::string::npos) << table;
  EXPECT_NE(table.find("(-N: N of the sweep's jobs were deleted one by one"), std::string::npos)
      << table;
  listed.mutable_sweeps(0)->set_deleted_jobs(0);
  EXPECT_EQ(SweepTable(listed).find("-N"), std::string::npos) << SweepTable(listed);
}

}  // namespace
}  // namespace polytrain
