// Jobs compared by id that were trained differently are said to be: the fields that differ, and
// a note in CompareJobs' answer; a sweep's jobs, one base spec, carry none.
#include "server/training_setup_diff.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobSpec;

TEST(TrainingSetupDiffTest, OnlyFieldsThatChangeTrainingCount) {
  JobSpec a;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "name: 'a' seed: 1 batch_size: 32 loss { cross_entropy {} } optimizer { sgd {} "
      "learning_rate: 0.1 } epochs: 2 threads: 1 priority: 3",
      &a));
  JobSpec b = a;
  b.set_name("b");
  b.set_seed(2);
  b.mutable_loss()->mutable_poly1()->set_epsilon(2);
  b.set_threads(2);
  b.set_priority(9);
  (*b.mutable_labels())["team"] = "x";
  b.mutable_eval()->set_calibration_bins(15);  // evaluation only: the same training
  b.mutable_schedule()->mutable_constant();    // the same as none
  EXPECT_TRUE(TrainingSetupDifferences(a, b).empty());
  b.mutable_schedule()->set_warmup_steps(5);
  EXPECT_EQ(TrainingSetupDifferences(a, b), std::vector<std::string>{"spec.schedule"});
  b.clear_schedule();
  b.set_batch_size(64);
  b.mutable_optimizer()->set_learning_rate(0.2);
  EXPECT_EQ(TrainingSetupDifferences(a, b),
            (std::vector<std::string>{"spec.optimizer", "spec.batch_size"}));
  // A budget in epochs against one in steps: a difference, unless both trained the same steps.
  b = a;
  b.clear_epochs();
  b.set_max_steps(50);
  EXPECT_EQ(TrainingSetupDifferences(a, b),
            (std::vector<std::string>{"spec.epochs", "spec.max_steps"}));
  EXPECT_TRUE(TrainingSetupDifferences(a, b, /*same_steps_trained=*/true).empty());
}

TEST_F(CoordinatorTest, ComparingJobsTrainedDifferentlyCarriesANote) {
  polytrain::v1::SubmitJobRequest request = Request("a");
  const Job a = *api_->SubmitJob(request, kAdmin);
  request.mutable_spec()->mutable_loss()->mutable_poly1()->set_epsilon(1);
  request.mutable_spec()->set_seed(7);
  const Job same_setup = *api_->SubmitJob(request, kAdmin);
  request.mutable_spec()->set_epochs(request.spec().epochs() + 1);
  const Job longer = *api_->SubmitJob(request, kAdmin);
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(a.id());
  compare.add_job_ids(same_setup.id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->note(), "");
  compare.add_job_ids(longer.id());
  table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->note(), "jobs " + a.id() + " and " + longer.id() +
                               " differ in more than their loss and seed (spec.epochs): each "
                               "loss's runs are pooled, and the losses compared, across that "
                               "difference (group_by a label, e.g. \"sweep\" for sweeps of other "
                               "settings, keeps them apart)");
}

// Jobs that ended having trained the same steps, one budget written in epochs, the other in
// steps, trained alike: no note. Ended after different steps, they did not.
TEST_F(CoordinatorTest, ABudgetWrittenTwoWaysThatTrainedTheSameStepsIsNoDifference) {
  polytrain::v1::SubmitJobRequest request = Request("epochs");  // 4 samples, batch 2: 2 steps
  const Job in_epochs = *api_->SubmitJob(request, kAdmin);
  request.mutable_spec()->clear_epochs();
  request.mutable_spec()->set_max_steps(2);
  const Job in_steps = *api_->SubmitJob(request, kAdmin);
  const Job stopped_short = *api_->SubmitJob(request, kAdmin);
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel, /*slots=*/3);
  Finish(session, in_epochs, {{"eval_accuracy", 0.5}}, 2);
  Finish(session, in_steps, {{"eval_accuracy", 0.5}}, 2);
  Finish(session, stopped_short, {{"eval_accuracy", 0.5}}, 1);
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(in_epochs.id());
  compare.add_job_ids(in_steps.id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->note(), "");
  compare.add_job_ids(stopped_short.id());
  table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_NE(table->note().find(stopped_short.id() + " differ in more than their loss and seed "
                                                    "(spec.epochs, spec.max_steps)"),
            std::string::npos)
      << table->note();
}

}  // namespace
}  // namespace polytrain
