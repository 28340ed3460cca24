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
                            const Caller& caller, int seeds = 1) {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request(name).spec();
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
