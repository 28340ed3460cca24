// CompareJobs over several sweeps and jobs together (CompareJobsRequest.sweep_ids): each job
// once, each sweep as its owner's, refusals naming sweep_ids[i], the 1000 jobs in all at the edge.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::CompareJobsRequest;
using polytrain::v1::SubmitSweepResponse;

class CompareSweepsTest : public CoordinatorTest {
 protected:
  // A grid sweep of cross-entropy and poly1 with each of `epsilons`, `seeds` runs each.
  SubmitSweepResponse Sweep(const std::string& name, const std::vector<int>& epsilons,
                            const Caller& caller, int seeds = 1, int batch_size = 2,
                            const std::string& lr_label = "") {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request(name).spec();
    request.mutable_base()->set_batch_size(batch_size);
    if (!lr_label.empty()) (*request.mutable_base()->mutable_labels())["lr"] = lr_label;
    request.add_losses()->mutable_cross_entropy();
    for (int e : epsilons) request.add_losses()->mutable_poly1()->set_epsilon(e);
    request.set_seeds(seeds);
    absl::StatusOr<SubmitSweepResponse> sweep = api_->SubmitSweep(request, caller);
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return *sweep;
  }
};

TEST_F(CompareSweepsTest, SweepsAndJobsTogetherCountEachJobOnce) {
  const Caller alice = Caller::Client("alice");
  const SubmitSweepResponse first = Sweep("first", {1}, alice);
  const SubmitSweepResponse second = Sweep("second", {2}, alice);
  CompareJobsRequest request;
  request.add_job_ids(first.jobs(0).id());  // also in the first sweep
  request.add_sweep_ids(first.sweep_id());
  request.add_sweep_ids(second.sweep_id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(request, alice);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<std::string> ids;
  for (const auto& row : table->jobs()) ids.push_back(row.job_id());
  EXPECT_EQ(ids, (std::vector<std::string>{first.jobs(0).id(), first.jobs(1).id(),
                                           second.jobs(0).id(), second.jobs(1).id()}));
  EXPECT_EQ(table->baseline_loss(), "ce");
  EXPECT_EQ(table->losses_size(), 3);  // ce pooled over both sweeps, and each poly1

  // Another user's sweep, an unknown one, one whose jobs were all deleted: named by index.
  EXPECT_EQ(api_->CompareJobs(request, Caller::Client("bob")).status().message(),
            "job_ids[0]: job " + first.jobs(0).id() + " belongs to another user");
  request.clear_job_ids();
  EXPECT_EQ(api_->CompareJobs(request, Caller::Client("bob")).status().message(),
            "sweep_ids[0]: sweep " + first.sweep_id() + " belongs to another user");
  request.add_sweep_ids("sweep-000000000000");
  const absl::Status unknown = api_->CompareJobs(request, alice).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), "sweep_ids[2]: no sweep sweep-000000000000");
  polytrain::v1::CancelSweepRequest cancel;
  cancel.set_id(second.sweep_id());
  ASSERT_TRUE(api_->CancelSweep(cancel, alice).ok());
  for (const auto& job : second.jobs()) {
    polytrain::v1::DeleteJobRequest deletion;
    deletion.set_id(job.id());
    ASSERT_TRUE(api_->DeleteJob(deletion, alice).ok());
  }
  request.mutable_sweep_ids()->RemoveLast();
  EXPECT_EQ(api_->CompareJobs(request, alice).status().message(),
            "sweep_ids[1]: no jobs in sweep " + second.sweep_id() + " (each was deleted)");
  // A sweep whose deletion began (its jobs going one by one) is not compared on what is left.
  request.mutable_sweep_ids()->RemoveLast();
  ASSERT_TRUE(core_->store().MarkSweepDeleting(first.sweep_id()).ok());
  const absl::Status deleting = api_->CompareJobs(request, alice).status();
  EXPECT_EQ(deleting.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(deleting.message(), "sweep_ids[0]: sweep " + first.sweep_id() +
                                    " is being deleted (DeleteSweep): its jobs are going");
}

// The note on jobs trained differently compares jobs of one group only: sweeps of other batch
// sizes are noted pooled, not grouped by sweep, and noted again where a group holds both.
TEST_F(CompareSweepsTest, TheNoteOnDifferentSetupsLooksWithinEachGroup) {
  const SubmitSweepResponse small = Sweep("small", {1}, kAdmin, 1, /*batch_size=*/2, "0.1");
  const SubmitSweepResponse large = Sweep("large", {1}, kAdmin, 1, /*batch_size=*/4, "0.1");
  CompareJobsRequest request;
  request.add_sweep_ids(small.sweep_id());
  EXPECT_EQ(api_->CompareJobs(request, kAdmin)->note(), "");  // one sweep: one setup
  request.add_sweep_ids(large.sweep_id());
  const std::string differ = "jobs " + small.jobs(0).id() + " and " + large.jobs(0).id() +
                             " differ in more than their loss and seed (spec.batch_size): each "
                             "loss's runs are pooled, and the losses compared, across that "
                             "difference";
  EXPECT_EQ(api_->CompareJobs(request, kAdmin)->note(),
            differ +
                " (group_by a label, e.g. \"sweep\" for sweeps of other settings, keeps "
                "them apart)");
  request.set_group_by("sweep");
  EXPECT_EQ(api_->CompareJobs(request, kAdmin)->note(), "");
  request.set_group_by("lr");  // both sweeps labelled lr=0.1: one group, two setups
  EXPECT_EQ(api_->CompareJobs(request, kAdmin)->note(), differ + " within each lr");
  request.set_group_by("lr.typo");  // no job has it: said, beside the difference
  EXPECT_EQ(api_->CompareJobs(request, kAdmin)->note(),
            "no job compared has the label 'lr.typo': group_by put them all in one group; " +
                differ + " within each lr.typo");
}

TEST_F(CompareSweepsTest, AtMostAThousandJobsInAll) {
  std::vector<int> epsilons;
  for (int e = 1; e < 100; ++e) epsilons.push_back(e);
  const SubmitSweepResponse large = Sweep("large", epsilons, kAdmin, /*seeds=*/10);
  ASSERT_EQ(large.jobs_size(), 1000);
  CompareJobsRequest request;
  request.add_sweep_ids(large.sweep_id());
  request.add_job_ids(large.jobs(999).id());  // one of the sweep's: 1000 in all
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(request, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->jobs_size(), 1000);
  request.set_job_ids(0, Submit("one-more").id());
  const absl::Status refused = api_->CompareJobs(request, kAdmin).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(),
            "sweep_ids: more than 1000 jobs in all (job_ids and the sweeps' jobs); compare fewer");
}

}  // namespace
}  // namespace polytrain
