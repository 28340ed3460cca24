// Successive-halving searches through the coordinator in-process: a real SQLite file, workers
// stood in for by recording channels that report pauses and finishes as a worker would.
#include "api/loss_search.h"
#include "server/search_controller_fixture.h"
#include "server/sqlite_job_store.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

TEST_F(SearchControllerTest, PromotesTheBestByTheirOwnCheckpointsStopsTheRestThenReruns) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(/*top_k=*/1, 2));
  ASSERT_EQ(submitted.jobs_size(), 6);  // one trial per loss, one seed each
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, /*slots=*/6);
  std::vector<std::string> ids;
  for (const Job& job : submitted.jobs()) {
    ids.push_back(job.id());
    const Job* assigned = Assigned(channel, job.id());
    ASSERT_NE(assigned, nullptr);
    EXPECT_EQ(assigned->search().pause_at_epoch(), 1);
    EXPECT_EQ(assigned->spec().seed(), submitted.jobs(0).spec().seed());
  }
  // Rung 0's accuracies, in the order the trials report.
  const double rung0[] = {0.60, 0.50, 0.55, 0.52, 0.58, 0.70};
  const auto in_place = [] { return absl::OkStatus(); };
  ASSERT_TRUE(
      scheduler_->StoreArtifact(ids[0], 1, ids[0] + "/ckpt-000000000002.pt", in_place).ok());
  // Only the running attempt's upload becomes the job's checkpoint (one given up on mid-upload
  // is refused at its end too).
  EXPECT_EQ(scheduler_->StoreArtifact(ids[0], 2, ids[0] + "/ckpt-000000000009.pt", in_place)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  for (int i = 0; i < 3; ++i) Report(worker, ids[i], rung0[i], /*paused=*/true, 2);
  // The best of the first three goes up at once, resuming from its own checkpoint.
  Job promoted = Get(ids[0]);
  EXPECT_EQ(promoted.state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(promoted.search().rung(), 1);
  EXPECT_EQ(promoted.search().rung_values_size(), 1);
  EXPECT_EQ(promoted.spec().priority(), 1);
  const Job* resumed = Assigned(channel, ids[0]);
  EXPECT_EQ(resumed->search().pause_at_epoch(), 3);
  EXPECT_EQ(resumed->checkpoint(), ids[0] + "/ckpt-000000000002.pt");
  EXPECT_EQ(Get(ids[1]).state(), polytrain::v1::JOB_STATE_PAUSED);
  EXPECT_EQ(Get(ids[2]).state(), polytrain::v1::JOB_STATE_PAUSED);
  // Four and five reported: the top 1 is still the first; six: the top 2 take in the last.
  for (int i = 3; i < 6; ++i) Report(worker, ids[i], rung0[i], true, 2);
  EXPECT_EQ(Get(ids[5]).search().rung(), 1);
  EXPECT_EQ(Get(ids[4]).state(), polytrain::v1::JOB_STATE_PAUSED);
  Sweep sweep = GetSweep(submitted.sweep_id());
  ASSERT_EQ(sweep.rungs_size(), 3);
  EXPECT_EQ(sweep.rungs(0).resource(), 1);
  EXPECT_EQ(sweep.rungs(2).resource(), 9);
  EXPECT_EQ(sweep.rungs(0).reported(), 6);
  EXPECT_EQ(sweep.rungs(0).promoted(), 2);
  EXPECT_EQ(sweep.rungs(0).paused(), 4);
  EXPECT_EQ(sweep.rungs(1).active(), 2);
  EXPECT_EQ(sweep.rungs(0).best_job_id(), ids[5]);
  EXPECT_EQ(sweep.state(), Sweep::SWEEP_STATE_RUNNING);

  // Rung 1: both report; nothing else runs, so the best of the two (ceil(2/3) = 1) goes on.
  Report(worker, ids[0], 0.61, true, 6);
  Report(worker, ids[5], 0.72, true, 6);
  EXPECT_EQ(Get(ids[5]).search().rung(), 2);
  EXPECT_EQ(Assigned(channel, ids[5])->search().pause_at_epoch(), 0);  // to the end
  Evaluated(worker, ids[5], 12, 0.80);
  Report(worker, ids[5], 0.77, /*paused=*/false, 18);
  EXPECT_EQ(Get(ids[5]).state(), polytrain::v1::JOB_STATE_SUCCEEDED);
  // Halving is over: the rest are stopped by the search, with the rung that ended them.
  for (int i : {0, 1, 2, 3, 4}) {
    const Job job = Get(ids[i]);
    EXPECT_EQ(job.state(), polytrain::v1::JOB_STATE_STOPPED) << i;
    EXPECT_NE(job.error().find("stopped by search " + submitted.sweep_id()), std::string::npos)
        << job.error();
  }
  EXPECT_NE(Get(ids[0]).error().find("at rung 1 (3 epochs)"), std::string::npos);
  EXPECT_NE(Get(ids[1]).error().find("at rung 0 (1 epoch)"), std::string::npos);
  // Re-runs: the finalist with its second seed, and the baseline (cross-entropy) with two.
  sweep = GetSweep(submitted.sweep_id());
  std::vector<std::string> reruns;
  for (const Sweep::Trial& t : sweep.trials()) {
    if (t.rerun()) reruns.push_back(t.job_id());
  }
  ASSERT_EQ(reruns.size(), 3u);
  // Queued, the re-runs count as their owner's 3 unended jobs, no longer also as the search's
  // pending ones: a fourth fits under a limit of 4.
  EXPECT_TRUE(core_->store()
                  .CheckUnendedJobs(submitted.jobs(0).owner(), /*added=*/1, /*later_jobs=*/0,
                                    /*limit=*/4)
                  .ok());
  EXPECT_EQ(Get(reruns[0]).loss_name(), "poly1(e=5)");
  EXPECT_EQ(Get(reruns[0]).spec().seed(), submitted.jobs(0).spec().seed() + 1);
  EXPECT_EQ(Get(reruns[0]).search().pause_at_epoch(), 0);
  EXPECT_EQ(Get(reruns[1]).loss_name(), "ce");
  EXPECT_EQ(sweep.state(), Sweep::SWEEP_STATE_RUNNING);
  Evaluated(worker, reruns[0], 6, 0.70);
  Evaluated(worker, reruns[0], 12, 0.78);
  Report(worker, reruns[0], 0.76, false, 18);
  Report(worker, reruns[1], 0.70, false, 18);
  Report(worker, reruns[2], 0.71, false, 18);
  sweep = GetSweep(submitted.sweep_id());
  EXPECT_EQ(sweep.state(), Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(sweep.best_loss(), "poly1(e=5)");
  EXPECT_EQ(sweep.baseline_loss(), "ce");
  ASSERT_EQ(sweep.ranking_size(), 2);
  EXPECT_EQ(sweep.ranking(0).runs(), 2);
  EXPECT_NEAR(sweep.ranking(0).mean(), (0.77 + 0.76) / 2, 1e-12);
  EXPECT_FALSE(std::isnan(sweep.ranking(0).ci95_low()));
  EXPECT_FALSE(std::isnan(sweep.ranking(0).p_value()));
  // The mean over its runs of each run's best evaluation (as CompareJobs computes it).
  EXPECT_NEAR(sweep.ranking(0).mean_best(), (0.80 + 0.78) / 2, 1e-12);
  // Compute: four trials stopped at 2 steps, one at 6, one to the end, three full re-runs.
  EXPECT_EQ(sweep.total_steps(), 4 * 2 + 6 + 18 + 3 * 18);
}

// A promotion lifts a trial's priority by its rung, but never past --max_client_priority (a
// client's search at the limit stays there) nor below the search's own.
TEST_F(SearchControllerTest, APromotionNeverLiftsATrialPastTheClientPriorityLimit) {
  ClientPolicy policy;
  policy.max_client_priority = 5;
  OpenWithPolicy(policy);
  polytrain::v1::SubmitSweepRequest request = Halving(/*top_k=*/0, 1);
  request.mutable_base()->set_priority(5);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> submitted =
      api_->SubmitSweep(request, Caller::Client("alice"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, /*slots=*/6);
  const double rung0[] = {0.60, 0.50, 0.55, 0.52, 0.58, 0.70};
  for (int i = 0; i < 6; ++i) {
    Report(worker, submitted->jobs(i).id(), rung0[i], /*paused=*/true, 2);
  }
  const Job promoted = Get(submitted->jobs(5).id());
  ASSERT_EQ(promoted.search().rung(), 1);
  EXPECT_EQ(promoted.spec().priority(), 5);  // not 6

  // An admin's search above the limit rises as before.
  request.mutable_base()->set_priority(7);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> admins = api_->SubmitSweep(request, kAdmin);
  ASSERT_TRUE(admins.ok()) << admins.status();
  RecordingChannel more;
  const int64_t second_worker = Connect("w2", &more, /*slots=*/6);
  for (int i = 0; i < 6; ++i) {
    const std::string& id = admins->jobs(i).id();
    Report(Assigned(more, id) != nullptr ? second_worker : worker, id, rung0[i], true, 2);
  }
  const Job rising = Get(admins->jobs(5).id());
  ASSERT_EQ(rising.search().rung(), 1);
  EXPECT_EQ(rising.spec().priority(), 8);
}

TEST_F(SearchControllerTest, TheBaselineRunsNoSeedTheSameLossRanAlready) {
  // Poly-1 with epsilon 0 is cross-entropy, the baseline. When it wins, its trial and its
  // re-run are the baseline's runs too: no seed of it trains twice, nor counts twice.
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(/*top_k=*/1, 2));
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, /*slots=*/6);
  std::vector<std::string> ids;
  for (const Job& job : submitted.jobs()) ids.push_back(job.id());
  ASSERT_EQ(Get(ids[0]).loss_name(), "ce");
  const double rung0[] = {0.70, 0.50, 0.55, 0.52, 0.58, 0.60};
  for (int i = 0; i < 6; ++i) Report(worker, ids[i], rung0[i], /*paused=*/true, 2);
  Report(worker, ids[0], 0.75, true, 6);
  Report(worker, ids[5], 0.61, true, 6);
  ASSERT_EQ(Get(ids[0]).search().rung(), 2);
  Report(worker, ids[0], 0.77, /*paused=*/false, 18);
  Sweep sweep = GetSweep(submitted.sweep_id());
  std::vector<std::string> reruns;
  for (const Sweep::Trial& t : sweep.trials()) {
    if (t.rerun()) reruns.push_back(t.job_id());
  }
  ASSERT_EQ(reruns.size(), 1u);  // the finalist's second seed; the baseline has both already
  EXPECT_EQ(Get(reruns[0]).loss_name(), "ce");
  EXPECT_EQ(Get(reruns[0]).spec().seed(), submitted.jobs(0).spec().seed() + 1);
  Report(worker, reruns[0], 0.76, false, 18);
  sweep = GetSweep(submitted.sweep_id());
  EXPECT_EQ(sweep.state(), Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(sweep.best_loss(), "ce");
  ASSERT_EQ(sweep.ranking_size(), 1);
  EXPECT_EQ(sweep.ranking(0).runs(), 2);
  EXPECT_NEAR(sweep.ranking(0).mean(), (0.77 + 0.76) / 2, 1e-12);
}

TEST_F(SearchControllerTest, ASearchGoesOnAfterARestartAndACancelledTrialDropsOut) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(0, 1));
  std::vector<std::string> ids;
  for (const Job& job : submitted.jobs()) ids.push_back(job.id());
  {
    RecordingChannel channel;
    const int64_t worker = Connect("w", &channel, 6);
    Report(worker, ids[0], 0.6, true, 2);
    Report(worker, ids[1], 0.5, true, 2);
  }
  core_.reset();  // the coordinator stops; the other four were running
  Scheduler::Options options;
  options.lease_seconds = 10;
  options.lease_thread = false;
  Open(options);
  EXPECT_EQ(GetSweep(submitted.sweep_id()).state(), Sweep::SWEEP_STATE_RUNNING);
  EXPECT_EQ(Get(ids[0]).state(), polytrain::v1::JOB_STATE_PAUSED);
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(ids[1]);
  ASSERT_EQ(api_->CancelJob(cancel, kAdmin)->state(), polytrain::v1::JOB_STATE_CANCELLED);
  scheduler_->ExpireLeases(Later());  // the running four are queued again
  RecordingChannel channel;
  const int64_t worker = Connect("w2", &channel, 6);
  for (int i = 2; i < 6; ++i) Report(worker, ids[i], 0.1 * i, true, 2);
  // Six reported rung 0, the cancelled one too (it finished the rung before its cancel):
  // floor(6/3) = 2 go up, the best two being 0.6 and the cancelled 0.5: only 0.6 runs on.
  EXPECT_EQ(Get(ids[0]).search().rung(), 1);
  EXPECT_EQ(Get(ids[0]).state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(GetSweep(submitted.sweep_id()).rungs(0).reported(), 6);
}

TEST_F(SearchControllerTest, ATrialCancelledWhileItRunsEndsAtItsRungInsteadOfPausing) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(0, 1));
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, 6);
  const std::string id = submitted.jobs(0).id();
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(id);
  ASSERT_EQ(api_->CancelJob(cancel, kAdmin)->state(), polytrain::v1::JOB_STATE_RUNNING);
  Report(worker, id, 0.9, /*paused=*/true, 2);  // its rung's result came before the stop
  EXPECT_EQ(Get(id).state(), polytrain::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(Get(id).error(), "cancelled as it finished its rung");
  // Its rung's result is the sweep's, as a paused trial's is.
  const Sweep report = GetSweep(submitted.sweep_id());
  ASSERT_GT(report.trials_size(), 0);
  EXPECT_EQ(std::vector<double>(report.trials(0).rung_values().begin(),
                                report.trials(0).rung_values().end()),
            std::vector<double>{0.9});
}

TEST_F(SearchControllerTest, ARestartDecidesWhatTheStoppedCoordinatorLeftUndecided) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(0, 1));
  std::vector<std::string> ids;
  for (const Job& job : submitted.jobs()) ids.push_back(job.id());
  core_.reset();
  {
    // As if the coordinator had stored all six pauses at rung 0 and stopped before deciding.
    std::unique_ptr<SqliteJobStore> store = *SqliteJobStore::Open(path_);
    for (int i = 0; i < 6; ++i) {
      Job job = *store->GetJob(ids[i]);
      job.set_state(polytrain::v1::JOB_STATE_PAUSED);
      job.set_attempts(1);
      (*job.mutable_final_metrics())["eval_accuracy"] = 0.1 * (i + 1);
      ASSERT_TRUE(store->UpdateJob(job).ok());
    }
  }
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);  // decides again from the store
  // floor(6/3) = 2 go up to rung 1, the best two; the others wait at rung 0 (not all are done).
  for (int i = 0; i < 6; ++i) {
    const Job job = Get(ids[i]);
    EXPECT_EQ(job.search().rung(), i >= 4 ? 1 : 0) << i;
    EXPECT_EQ(job.state(),
              i >= 4 ? polytrain::v1::JOB_STATE_QUEUED : polytrain::v1::JOB_STATE_PAUSED)
        << i;
  }
  RecordingChannel channel;
  Connect("w", &channel, 6);
  EXPECT_NE(Assigned(channel, ids[5]), nullptr);  // and they run
}

TEST_F(SearchControllerTest, ASearchWhoseTrialsAllEndWithoutAResultIsDoneWithoutReruns) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(/*top_k=*/2, 3));
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, 6);
  // Three report rung 0 and the best goes up; then the user cancels every trial, the promoted
  // one too: a cancelled trial is no finalist, whatever rung it reached.
  for (int i = 0; i < 3; ++i) Report(worker, submitted.jobs(i).id(), 0.5 + 0.1 * i, true, 2);
  ASSERT_EQ(Get(submitted.jobs(2).id()).state(), polytrain::v1::JOB_STATE_RUNNING);
  for (const Job& job : submitted.jobs()) {
    polytrain::v1::CancelJobRequest cancel;
    cancel.set_id(job.id());
    ASSERT_TRUE(api_->CancelJob(cancel, kAdmin).ok());
    if (Get(job.id()).state() == polytrain::v1::JOB_STATE_RUNNING) {  // the worker confirms
      polytrain::v1::WorkerMessage message;
      message.mutable_failed()->set_job_id(job.id());
      message.mutable_failed()->set_attempt(Get(job.id()).attempts());
      message.mutable_failed()->set_cancelled(true);
      ASSERT_TRUE(protocol_->Handle(worker, message).ok());
    }
    EXPECT_EQ(Get(job.id()).state(), polytrain::v1::JOB_STATE_CANCELLED);
  }
  const Sweep sweep = GetSweep(submitted.sweep_id());
  EXPECT_EQ(sweep.state(), Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(sweep.trials_size(), 6);  // no re-run, no baseline
  EXPECT_TRUE(sweep.best_loss().empty());
}

TEST_F(SearchControllerTest, GetSweepNamesWhatIsMissingAndWhoseItIs) {
  const polytrain::v1::SubmitSweepResponse submitted = SubmitSweep(Halving(0, 1));
  polytrain::v1::GetSweepRequest request;
  request.set_id("sweep-000000000000");
  EXPECT_EQ(api_->GetSweep(request, kAdmin).status().message(), "id: no sweep sweep-000000000000");
  request.set_id(submitted.sweep_id());
  EXPECT_EQ(api_->GetSweep(request, Caller::Client("mallory")).status().code(),
            absl::StatusCode::kPermissionDenied);
  request.clear_id();
  EXPECT_EQ(api_->GetSweep(request, kAdmin).status().message(), "id: must be set");
  // A grid sweep has a record too, and is done when its jobs are.
  polytrain::v1::SubmitSweepRequest grid;
  *grid.mutable_base() = Request("grid").spec();
  grid.mutable_base()->clear_loss();
  grid.add_losses()->mutable_cross_entropy();
  const polytrain::v1::SubmitSweepResponse g = SubmitSweep(grid);
  RecordingChannel channel;
  const int64_t worker = Connect("w", &channel, 8);
  Report(worker, g.jobs(0).id(), 0.8, false, 2);
  const Sweep done = GetSweep(g.sweep_id());
  EXPECT_EQ(done.state(), Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(done.best_loss(), "ce");
  EXPECT_EQ(done.rungs_size(), 0);
}

}  // namespace
}  // namespace polytrain
