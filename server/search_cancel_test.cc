// Cancelling a search through the coordinator in-process: a cancelled search ends what runs and
// decides nothing more; a cancelled grid stays cancelled, and a restart finishes a cancel the
// stopped coordinator left half done.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/search_controller_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

TEST_F(SearchControllerTest, ACancelledSearchEndsWhatRunsAndDecidesNothingMore) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(/*top_k=*/1, 2));
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, 6);
  std::vector<std::string> ids;
  for (const Job& job : submitted.jobs()) ids.push_back(job.id());
  for (int i = 0; i < 3; ++i) Report(worker, ids[i], 0.5 + 0.1 * i, /*paused=*/true, 2);
  ASSERT_EQ(Get(ids[2]).state(), polytrain::v1::JOB_STATE_RUNNING);  // promoted to rung 1
  ASSERT_EQ(Get(ids[0]).state(), polytrain::v1::JOB_STATE_PAUSED);

  polytrain::v1::CancelSweepRequest cancel;
  cancel.set_id(submitted.sweep_id());
  absl::StatusOr<Sweep> cancelled = api_->CancelSweep(cancel, kAdmin);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), Sweep::SWEEP_STATE_CANCELLED);
  // Paused ones at once; running ones are told to stop, and end when their workers say so.
  EXPECT_EQ(Get(ids[0]).state(), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(ids[1]).state(), polytrain::v1::JOB_STATE_CANCELLED);
  int cancels_sent = 0;
  for (const auto& m : channel.sent) cancels_sent += m.has_cancel() ? 1 : 0;
  EXPECT_EQ(cancels_sent, 4);  // the promoted trial and the three still at rung 0
  // They finish their segments as the stop arrives: no promotion, no stop, no re-run follows.
  Report(worker, ids[2], 0.9, /*paused=*/true, 6);
  for (int i = 3; i < 6; ++i) Report(worker, ids[i], 0.8, /*paused=*/true, 2);
  const Sweep after = GetSweep(submitted.sweep_id());
  EXPECT_EQ(after.state(), Sweep::SWEEP_STATE_CANCELLED);
  ASSERT_EQ(after.trials_size(), 6);
  for (const Sweep::Trial& trial : after.trials()) {
    EXPECT_EQ(trial.state(), polytrain::v1::JOB_STATE_CANCELLED) << trial.job_id();
  }
  EXPECT_TRUE(after.best_loss().empty());
  // Cancelled again: answered as it stands. Done, someone else's, unknown: refused by field.
  EXPECT_EQ(api_->CancelSweep(cancel, kAdmin)->state(), Sweep::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(api_->CancelSweep(cancel, Caller::Client("mallory")).status().code(),
            absl::StatusCode::kPermissionDenied);
  cancel.set_id("sweep-000000000000");
  EXPECT_EQ(api_->CancelSweep(cancel, kAdmin).status().message(),
            "id: no sweep sweep-000000000000");
  cancel.clear_id();
  EXPECT_EQ(api_->CancelSweep(cancel, kAdmin).status().message(), "id: must be set");
  polytrain::v1::SubmitSweepRequest grid;
  *grid.mutable_base() = Request("grid").spec();
  grid.mutable_base()->clear_loss();
  grid.add_losses()->mutable_cross_entropy();
  const polytrain::v1::SubmitSweepResponse done = SubmitSweep(grid);
  Report(worker, done.jobs(0).id(), 0.8, false, 2);
  cancel.set_id(done.sweep_id());
  EXPECT_EQ(api_->CancelSweep(cancel, kAdmin).status().message(),
            absl::StrCat("id: sweep ", done.sweep_id(), " is done: every job of it ended"));
}

TEST_F(SearchControllerTest, ACancelledGridStaysCancelledAndARestartFinishesAnInterruptedCancel) {
  polytrain::v1::SubmitSweepRequest grid;
  *grid.mutable_base() = Request("grid").spec();
  grid.mutable_base()->clear_loss();
  grid.add_losses()->mutable_cross_entropy();
  grid.add_losses()->mutable_poly1()->set_epsilon(1);
  grid.set_seeds(2);
  const polytrain::v1::SubmitSweepResponse first = SubmitSweep(grid);  // queued: no worker
  polytrain::v1::CancelSweepRequest cancel;
  cancel.set_id(first.sweep_id());
  ASSERT_TRUE(api_->CancelSweep(cancel, kAdmin).ok());
  for (const Job& job : first.jobs()) {
    EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_CANCELLED);
    EXPECT_EQ(Get(job.id()).error(), "cancelled while queued");
  }
  // Every job ended, yet it was cancelled, not done.
  EXPECT_EQ(GetSweep(first.sweep_id()).state(), Sweep::SWEEP_STATE_CANCELLED);

  // The coordinator stopped after marking a sweep cancelled and before cancelling its jobs: its
  // next start cancels them.
  grid.mutable_base()->set_name("grid2");
  const polytrain::v1::SubmitSweepResponse second = SubmitSweep(grid);
  core_.reset();
  {
    std::unique_ptr<SqliteJobStore> store = *SqliteJobStore::Open(path_);
    ASSERT_TRUE(store->SetSweepState(second.sweep_id(), Sweep::SWEEP_STATE_CANCELLED).ok());
    // And cancelled is final: a late decision cannot mark it done.
    ASSERT_TRUE(store->SetSweepState(second.sweep_id(), Sweep::SWEEP_STATE_DONE).ok());
    EXPECT_EQ(store->GetSweep(second.sweep_id())->state(), Sweep::SWEEP_STATE_CANCELLED);
  }
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);
  for (const Job& job : second.jobs()) {
    EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_CANCELLED) << job.id();
  }
}

}  // namespace
}  // namespace polytrain
