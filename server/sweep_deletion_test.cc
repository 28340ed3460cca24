// Sweeps as records a user manages: a grid's record is done when its jobs end (also after a
// restart), ListSweeps lists them by state and owner, and DeleteSweep removes an ended sweep
// with its jobs, refusing one that runs.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/job_states.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"
#include "sqlite3.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

class SweepDeletionTest : public CoordinatorTest {
 protected:
  // A grid sweep of `losses` poly1 losses (epsilon 0, 1, ...), one seed.
  polytrain::v1::SubmitSweepResponse SubmitGrid(const Caller& caller, int losses,
                                                const std::string& request_id = "") {
    polytrain::v1::SubmitSweepRequest request;
    *request.mutable_base() = Request("grid").spec();
    request.mutable_base()->clear_loss();
    for (int e = 0; e < losses; ++e) request.add_losses()->mutable_poly1()->set_epsilon(e);
    request.set_client_request_id(request_id);
    absl::StatusOr<polytrain::v1::SubmitSweepResponse> response =
        api_->SubmitSweep(request, caller);
    EXPECT_TRUE(response.ok()) << response.status();
    return *response;
  }
  Sweep::State StoredState(const std::string& sweep_id) {
    absl::StatusOr<Sweep> record = core_->store().GetSweep(sweep_id);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? record->state() : Sweep::SWEEP_STATE_UNSPECIFIED;
  }
  std::vector<std::string> Listed(const Caller& caller,
                                  const std::vector<Sweep::State>& states = {}) {
    polytrain::v1::ListSweepsRequest request;
    for (Sweep::State state : states) request.add_states(state);
    absl::StatusOr<polytrain::v1::ListSweepsResponse> page = api_->ListSweeps(request, caller);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    for (const Sweep& sweep : page->sweeps()) ids.push_back(sweep.id());
    return ids;
  }
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> Delete(const std::string& id,
                                                            const Caller& caller) {
    polytrain::v1::DeleteSweepRequest request;
    request.set_id(id);
    return api_->DeleteSweep(request, caller);
  }
};

TEST_F(SweepDeletionTest, AGridSweepsRecordIsDoneOnceItsJobsEndAndAfterARestart) {
  const polytrain::v1::SubmitSweepResponse grid = SubmitGrid(kAdmin, 2);
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/2);
  Finish(session, grid.jobs(0), {{"eval_accuracy", 0.5}}, 10);
  EXPECT_EQ(StoredState(grid.sweep_id()), Sweep::SWEEP_STATE_RUNNING);
  Finish(session, grid.jobs(1), {{"eval_accuracy", 0.6}}, 10);
  EXPECT_EQ(StoredState(grid.sweep_id()), Sweep::SWEEP_STATE_DONE);

  // A record left running by a coordinator that stopped first (or predates this) is marked on
  // the next start.
  ASSERT_TRUE(core_->store().SetSweepState(grid.sweep_id(), Sweep::SWEEP_STATE_RUNNING).ok());
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);
  EXPECT_EQ(StoredState(grid.sweep_id()), Sweep::SWEEP_STATE_DONE);
}

// A deletion cut short (here a trigger fails it at the sweep's second job, as a kill would stop
// it) is finished at the next start: no sweep stays with part of its jobs (probe CG: a kill left
// one with 749 of its 1000).
TEST_F(SweepDeletionTest, ADeletionCutShortIsFinishedAtTheNextStart) {
  const polytrain::v1::SubmitSweepResponse grid = SubmitGrid(kAdmin, 3);
  const polytrain::v1::SubmitSweepResponse kept = SubmitGrid(kAdmin, 1, "kept");
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/4);
  for (const Job& job : grid.jobs()) Finish(session, job, {{"eval_accuracy", 0.5}}, 10);
  Finish(session, kept.jobs(0), {{"eval_accuracy", 0.5}}, 10);
  auto exec = [this](const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  };
  exec("CREATE TRIGGER cut BEFORE DELETE ON jobs WHEN OLD.id = '" + grid.jobs(1).id() +
       "' BEGIN SELECT RAISE(FAIL, 'cut short'); END");
  EXPECT_FALSE(Delete(grid.sweep_id(), kAdmin).ok());
  EXPECT_TRUE(core_->store().GetSweep(grid.sweep_id()).ok());  // half there
  EXPECT_EQ(core_->store().SweepBeingDeleted(grid.sweep_id()).value_or(false), true);
  EXPECT_EQ(core_->store().SweepBeingDeleted(kept.sweep_id()).value_or(true), false);
  EXPECT_TRUE(core_->store().GetJob(grid.jobs(1).id()).ok());
  exec("DROP TRIGGER cut");
  Scheduler::Options options;
  options.lease_thread = false;
  Open(options);
  EXPECT_TRUE(absl::IsNotFound(core_->store().GetSweep(grid.sweep_id()).status()));
  for (const Job& job : grid.jobs()) {
    EXPECT_TRUE(absl::IsNotFound(core_->store().GetJob(job.id()).status())) << job.id();
  }
  EXPECT_EQ(StoredState(kept.sweep_id()), Sweep::SWEEP_STATE_DONE);  // others are untouched
  EXPECT_TRUE(core_->store().GetJob(kept.jobs(0).id()).ok());
  EXPECT_TRUE(core_->store().SweepsBeingDeleted()->empty());
  EXPECT_TRUE(absl::IsNotFound(core_->store().SweepBeingDeleted(grid.sweep_id()).status()));
}

TEST_F(SweepDeletionTest, ListSweepsIsNewestFirstByStateAndAClientSeesItsOwn) {
  const Caller alice = Caller::Client("alice"), bob = Caller::Client("bob");
  const polytrain::v1::SubmitSweepResponse first = SubmitGrid(alice, 1);
  const polytrain::v1::SubmitSweepResponse second = SubmitGrid(alice, 1, "second");
  const polytrain::v1::SubmitSweepResponse bobs = SubmitGrid(bob, 1);
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/3);
  Finish(session, first.jobs(0), {{"eval_accuracy", 0.5}}, 10);

  using Ids = std::vector<std::string>;
  EXPECT_EQ(Listed(alice), (Ids{second.sweep_id(), first.sweep_id()}));
  EXPECT_EQ(Listed(alice, {Sweep::SWEEP_STATE_DONE}), Ids{first.sweep_id()});
  EXPECT_EQ(Listed(alice, {Sweep::SWEEP_STATE_RUNNING, Sweep::SWEEP_STATE_CANCELLED}),
            Ids{second.sweep_id()});
  EXPECT_EQ(Listed(bob), Ids{bobs.sweep_id()});
  EXPECT_EQ(Listed(kAdmin), (Ids{bobs.sweep_id(), second.sweep_id(), first.sweep_id()}));
  // A listed record is as submitted: its owner and request, no trials.
  polytrain::v1::ListSweepsRequest request;
  request.set_owner("alice");
  absl::StatusOr<polytrain::v1::ListSweepsResponse> admins = api_->ListSweeps(request, kAdmin);
  ASSERT_TRUE(admins.ok()) << admins.status();
  ASSERT_EQ(admins->sweeps_size(), 2);
  EXPECT_EQ(admins->sweeps(0).owner(), "alice");
  EXPECT_EQ(admins->sweeps(0).request().client_request_id(), "second");
  EXPECT_EQ(admins->sweeps(0).trials_size(), 0);
  // With how many of its jobs ended.
  EXPECT_EQ(admins->sweeps(0).jobs(), 1);
  EXPECT_EQ(admins->sweeps(0).ended_jobs(), 0);
  EXPECT_EQ(admins->sweeps(1).jobs(), 1);
  EXPECT_EQ(admins->sweeps(1).ended_jobs(), 1);
  EXPECT_EQ(api_->ListSweeps(request, bob).status().message(),
            "owner: a client token lists only its own sweeps");

  // Pages: one at a time, the token bound to the query and the caller.
  request.Clear();
  request.set_page_size(1);
  absl::StatusOr<polytrain::v1::ListSweepsResponse> page = api_->ListSweeps(request, alice);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sweeps_size(), 1);
  EXPECT_EQ(page->sweeps(0).id(), second.sweep_id());
  ASSERT_FALSE(page->next_page_token().empty());
  request.set_page_token(page->next_page_token());
  EXPECT_EQ(api_->ListSweeps(request, bob).status().code(), absl::StatusCode::kInvalidArgument);
  page = api_->ListSweeps(request, alice);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sweeps_size(), 1);
  EXPECT_EQ(page->sweeps(0).id(), first.sweep_id());
  EXPECT_TRUE(page->next_page_token().empty());
  // A ListJobs token is no ListSweeps token, though it binds the same caller and filters.
  polytrain::v1::ListJobsRequest jobs;
  jobs.set_page_size(1);
  absl::StatusOr<polytrain::v1::ListJobsResponse> job_page = api_->ListJobs(jobs, alice);
  ASSERT_TRUE(job_page.ok()) << job_page.status();
  ASSERT_FALSE(job_page->next_page_token().empty());
  request.set_page_token(job_page->next_page_token());
  EXPECT_EQ(api_->ListSweeps(request, alice).status().code(), absl::StatusCode::kInvalidArgument);

  // Bad requests name their field.
  request.Clear();
  request.add_states(Sweep::SWEEP_STATE_UNSPECIFIED);
  EXPECT_EQ(api_->ListSweeps(request, alice).status().message(), "states[0]: unknown state 0");
  request.Clear();
  for (int i = 0; i < 4; ++i) request.add_states(Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(api_->ListSweeps(request, alice).status().message(), "states: at most 3 states, got 4");
  request.Clear();
  request.set_page_size(1001);
  EXPECT_EQ(api_->ListSweeps(request, alice).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_page_size(1000);
  EXPECT_TRUE(api_->ListSweeps(request, alice).ok());
}

TEST_F(SweepDeletionTest, AnEndedSweepGoesWithItsJobsAndARunningOneIsRefused) {
  const Caller alice = Caller::Client("alice"), bob = Caller::Client("bob");
  const polytrain::v1::SubmitSweepResponse grid = SubmitGrid(alice, 2, "retried");
  const std::string& id = grid.sweep_id();
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/2);
  polytrain::v1::WorkerMessage points;
  points.mutable_metrics()->set_job_id(grid.jobs(0).id());
  points.mutable_metrics()->set_attempt(1);
  for (int64_t step : {10, 20}) AddTrainPoint(points.mutable_metrics(), step);
  ASSERT_TRUE(protocol_->Handle(session, points).ok());
  Finish(session, grid.jobs(0), {{"eval_accuracy", 0.5}}, 20);

  // One job runs: refused, nothing deleted, also once the sweep is cancelled and the job has
  // not stopped yet.
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> refused = Delete(id, alice);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            "id: sweep " + id + " has job " + grid.jobs(1).id() +
                " running; cancel the sweep first (CancelSweep), or wait for its end");
  polytrain::v1::CancelSweepRequest cancel;
  cancel.set_id(id);
  ASSERT_TRUE(api_->CancelSweep(cancel, alice).ok());
  refused = Delete(id, alice);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            "id: sweep " + id + " has job " + grid.jobs(1).id() +
                " running; the sweep is cancelled and the job is stopping: delete it once the "
                "job has ended");
  EXPECT_EQ(State(grid.jobs(0).id()), polytrain::v1::JOB_STATE_SUCCEEDED);
  Finish(session, grid.jobs(1), {}, 5);
  ASSERT_TRUE(IsFinalState(State(grid.jobs(1).id())));

  // Another's, or a bad id: refused by field.
  EXPECT_EQ(Delete(id, bob).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Delete("a b", alice).status().message().rfind("id: ", 0), 0u);
  EXPECT_EQ(Delete("sweep-000000000000", alice).status().message(),
            "id: no sweep sweep-000000000000");

  absl::StatusOr<polytrain::v1::DeleteSweepResponse> deleted = Delete(id, alice);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted().id(), id);
  EXPECT_EQ(deleted->deleted().state(), Sweep::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(deleted->jobs(), 2);
  EXPECT_EQ(deleted->metric_points(), 2);
  // The record as GetSweep showed it before its jobs went (probe DI: they were said 0).
  EXPECT_EQ(deleted->deleted().jobs(), 2);
  EXPECT_EQ(deleted->deleted().ended_jobs(), 2);
  // Gone: the record, its jobs; deleting it again is NOT_FOUND.
  polytrain::v1::GetSweepRequest get;
  get.set_id(id);
  EXPECT_EQ(api_->GetSweep(get, alice).status().code(), absl::StatusCode::kNotFound);
  polytrain::v1::GetJobRequest get_job;
  for (const Job& job : grid.jobs()) {
    get_job.set_id(job.id());
    EXPECT_EQ(api_->GetJob(get_job, alice).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_TRUE(Listed(alice).empty());
  EXPECT_EQ(Delete(id, alice).status().code(), absl::StatusCode::kNotFound);
  // Its client_request_id went with it: the same request is a new sweep.
  const polytrain::v1::SubmitSweepResponse again = SubmitGrid(alice, 2, "retried");
  EXPECT_EQ(again.sweep_id(), id);
  ASSERT_EQ(again.jobs_size(), 2);
  EXPECT_NE(again.jobs(0).id(), grid.jobs(0).id());
  EXPECT_EQ(StoredState(id), Sweep::SWEEP_STATE_RUNNING);
}

TEST_F(SweepDeletionTest, ARandomSearchIsDoneOnceItsTrialsEndAndItsTrialsMayThenGo) {
  const polytrain::v1::SubmitSweepRequest request =
      SearchRequest("random", polytrain::v1::LossSearch::STRATEGY_RANDOM, /*trials=*/2);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> random = api_->SubmitSweep(request, kAdmin);
  ASSERT_TRUE(random.ok()) << random.status();
  ASSERT_EQ(random->jobs_size(), 2);
  RecordingChannel channel;
  const int64_t session = Connect("w1", &channel, /*slots=*/2);
  for (const Job& trial : random->jobs()) Finish(session, trial, {{"eval_accuracy", 0.5}}, 4);
  EXPECT_EQ(StoredState(random->sweep_id()), Sweep::SWEEP_STATE_DONE);
  // Done: a trial may go (it was refused as a trial of a search still running, for good).
  polytrain::v1::DeleteJobRequest one;
  one.set_id(random->jobs(0).id());
  EXPECT_TRUE(api_->DeleteJob(one, kAdmin).ok());
  // The search says so: its report, computed from the jobs left, leaves one out.
  polytrain::v1::GetSweepRequest get;
  get.set_id(random->sweep_id());
  absl::StatusOr<Sweep> report = api_->GetSweep(get, kAdmin);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->jobs(), 1);
  EXPECT_EQ(report->trials_size(), 1);
  EXPECT_EQ(report->deleted_jobs(), 1);
  polytrain::v1::ListSweepsRequest list;
  absl::StatusOr<polytrain::v1::ListSweepsResponse> listed = api_->ListSweeps(list, kAdmin);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->sweeps_size(), 1);
  EXPECT_EQ(listed->sweeps(0).deleted_jobs(), 1);

  // A record not marked done yet (a coordinator that stopped first) is marked by DeleteSweep
  // before its trials go.
  ASSERT_TRUE(core_->store().SetSweepState(random->sweep_id(), Sweep::SWEEP_STATE_RUNNING).ok());
  absl::StatusOr<polytrain::v1::DeleteSweepResponse> deleted = Delete(random->sweep_id(), kAdmin);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->jobs(), 1);
  EXPECT_EQ(deleted->deleted().state(), Sweep::SWEEP_STATE_DONE);
}

TEST_F(SweepDeletionTest, ARunningSearchIsRefused) {
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> search =
      api_->SubmitSweep(SmallHalvingSearch(), kAdmin);
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(Delete(search->sweep_id(), kAdmin).status().message(),
            "id: sweep " + search->sweep_id() +
                " is running; cancel it first (CancelSweep), or wait for its end");
}

// A submit's retry racing its sweep's deletion is answered with the whole sweep (before), ABORTED
// (during) or a new sweep (after), never with the jobs not deleted yet as the sweep (probe DI: OK
// with 3 of 20).
TEST_F(SweepDeletionTest, ARetryRacingItsSweepsDeletionGetsAWholeSweepOrIsAborted) {
  for (int round = 0; round < 5; ++round) {
    const std::string request_id = "raced-" + std::to_string(round);
    const polytrain::v1::SubmitSweepResponse grid = SubmitGrid(kAdmin, 40, request_id);
    polytrain::v1::CancelSweepRequest cancel;  // its queued jobs end at once
    cancel.set_id(grid.sweep_id());
    ASSERT_TRUE(api_->CancelSweep(cancel, kAdmin).ok());
    std::set<std::string> old;
    for (const Job& job : grid.jobs()) old.insert(job.id());
    polytrain::v1::SubmitSweepRequest retry;
    *retry.mutable_base() = Request("grid").spec();
    retry.mutable_base()->clear_loss();
    for (int e = 0; e < 40; ++e) retry.add_losses()->mutable_poly1()->set_epsilon(e);
    retry.set_client_request_id(request_id);
    std::thread deleter([&] { EXPECT_TRUE(Delete(grid.sweep_id(), kAdmin).ok()); });
    bool fresh = false;
    for (int tries = 0; !fresh && tries < 100000; ++tries) {  // until it makes a new sweep
      absl::StatusOr<polytrain::v1::SubmitSweepResponse> again = api_->SubmitSweep(retry, kAdmin);
      if (absl::IsAborted(again.status())) {
        EXPECT_EQ(again.status().message(),
                  "client_request_id: '" + request_id + "' names sweep " + grid.sweep_id() +
                      ", which is being deleted (DeleteSweep); send the request again once it "
                      "is gone, for a new sweep");
        continue;
      }
      if (!again.ok()) {  // not ASSERT: the deleter must be joined
        ADD_FAILURE() << again.status();
        break;
      }
      EXPECT_EQ(again->jobs_size(), 40) << "round " << round;
      fresh = again->jobs_size() > 0 && old.count(again->jobs(0).id()) == 0;
    }
    deleter.join();
    EXPECT_TRUE(fresh) << "round " << round << ": the retries never made a new sweep";
  }
}

}  // namespace
}  // namespace polytrain
