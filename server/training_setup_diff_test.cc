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
                               "difference");
}

}  // namespace
}  // namespace polytrain
