// The coordinator's client API through its core: what each caller may see and change, the
// policy's bounds, idempotent retries, sweeps expanded once, pages and curves (requests refused
// field by field, dry runs and history limits: client_api_validation_test.cc).
#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/coordinator_test_fixture.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

class RecordingWatcher : public JobWatcher {
 public:
  void OnEvent(const polytrain::v1::JobEvent&) override { ++events; }
  void OnEnd() override {}
  int events = 0;
};

// --max_client_priority bounds a client token's priority; an admin's is the API's to bound.
TEST_F(CoordinatorTest, AClientsPriorityIsBoundedByThePolicy) {
  ClientPolicy policy;
  policy.max_client_priority = 10;
  OpenWithPolicy(policy);
  const Caller alice = Caller::Client("alice");
  polytrain::v1::SubmitJobRequest request = Request("urgent");
  request.mutable_spec()->set_priority(10);
  EXPECT_TRUE(api_->SubmitJob(request, alice).ok());
  request.mutable_spec()->set_priority(11);
  const absl::Status refused = api_->SubmitJob(request, alice).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.message(),
            "spec.priority: a client token may set at most 10 (coordinator flag "
            "--max_client_priority), got 11");
  request.set_validate_only(true);  // a dry run is refused alike
  EXPECT_EQ(api_->SubmitJob(request, alice).status().code(), absl::StatusCode::kPermissionDenied);
  request.set_validate_only(false);
  EXPECT_TRUE(api_->SubmitJob(request, Caller::Admin("ops")).ok());
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = request.spec();
  sweep.add_losses()->mutable_cross_entropy();
  EXPECT_EQ(api_->SubmitSweep(sweep, alice).status().message(),
            "base.priority: a client token may set at most 10 (coordinator flag "
            "--max_client_priority), got 11");
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);  // nothing of the refused ones
}

// --max_unended_jobs_per_client bounds what a client token has queued, running or paused.
TEST_F(CoordinatorTest, AClientsUnendedJobsAreBoundedByThePolicy) {
  ClientPolicy policy;
  policy.max_unended_jobs = 3;
  OpenWithPolicy(policy);
  const Caller alice = Caller::Client("alice");
  ASSERT_TRUE(api_->SubmitJob(Request("one"), alice).ok());
  absl::StatusOr<Job> second = api_->SubmitJob(Request("two"), alice);
  ASSERT_TRUE(second.ok());
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("sweep").spec();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.add_losses()->mutable_focal()->set_gamma(2);
  const absl::Status refused = api_->SubmitSweep(sweep, alice).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("adds 2; at most 3 at once"), std::string::npos) << refused;
  // A dry run says what the submit would (probe CD: it said OK, then the submit was refused).
  sweep.set_validate_only(true);
  EXPECT_EQ(api_->SubmitSweep(sweep, alice).status(), refused);
  sweep.set_validate_only(false);
  polytrain::v1::SubmitJobRequest third = Request("three");
  third.set_validate_only(true);
  EXPECT_TRUE(api_->SubmitJob(third, alice).ok());  // to the limit exactly
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);  // nothing of the refused sweep
  EXPECT_TRUE(api_->SubmitSweep(sweep, Caller::Client("bob")).ok());  // bob's count is his own
  EXPECT_TRUE(api_->SubmitJob(Request("ops"), Caller::Admin("ops")).ok());  // no limit

  // An ended job makes room: the same sweep now fits, to the limit exactly.
  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(second->id());
  ASSERT_TRUE(api_->CancelJob(cancel, alice).ok());
  EXPECT_TRUE(api_->SubmitSweep(sweep, alice).ok());
  EXPECT_EQ(api_->SubmitJob(Request("four"), alice).status().code(),
            absl::StatusCode::kResourceExhausted);
  polytrain::v1::SubmitJobRequest fourth = Request("four");
  fourth.set_validate_only(true);
  EXPECT_EQ(api_->SubmitJob(fourth, alice).status(),
            absl::ResourceExhaustedError(
                "client 'alice' has 3 jobs queued, running or paused and this request "
                "adds 1; at most 3 at once (coordinator flag --max_unended_jobs_per_client): wait "
                "for some to end or cancel some"));
}

// A search queues its trials at once and its re-runs once they have ended: both count, the
// re-runs as the search's pending jobs until they are queued (probe CF: 5 trials were counted,
// then 60 re-runs took the client to 59 of 40; the review: several searches at once each fitted
// alone).
TEST_F(CoordinatorTest, ASearchCountsItsReRunsAgainstTheLimitUntilItQueuesThem) {
  ClientPolicy policy;
  policy.max_unended_jobs = 12;
  OpenWithPolicy(policy);
  const Caller alice = Caller::Client("alice");
  polytrain::v1::SubmitSweepRequest request =
      SearchRequest("search", polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING, /*trials=*/2);
  polytrain::v1::LossSearch* search = request.mutable_search();
  search->set_top_k(2);
  search->set_min_resource(1);
  request.mutable_base()->set_epochs(3);
  request.set_seeds(4);  // re-runs: 2 x 4 and 4 of the baseline, 12
  const absl::Status refused = absl::ResourceExhaustedError(
      "client 'alice' has 0 jobs queued, running or paused and this request adds 2 and up to 12 "
      "re-runs of its best losses and the baseline once its trials end; at most 12 at once "
      "(coordinator flag --max_unended_jobs_per_client): wait for some to end or cancel some");
  EXPECT_EQ(api_->SubmitSweep(request, alice).status(), refused);
  request.set_validate_only(true);
  EXPECT_EQ(api_->SubmitSweep(request, alice).status(), refused);
  request.set_validate_only(false);
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 0);
  request.set_seeds(3);  // 2 trials and 9 re-runs: they fit
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> fits = api_->SubmitSweep(request, alice);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->jobs_size(), 2);
  // A second one does not: the first's re-runs are still to come.
  EXPECT_EQ(api_->SubmitSweep(request, alice).status(),
            absl::ResourceExhaustedError(
                "client 'alice' has 2 jobs queued, running or paused and 9 more its searches "
                "will queue; this request adds 2 and up to 9 re-runs of its best losses and the "
                "baseline once its trials end; at most 12 at once (coordinator flag "
                "--max_unended_jobs_per_client): wait for some to end or cancel some"));
  EXPECT_TRUE(api_->SubmitJob(Request("one"), alice).ok());  // 12 of 12
  EXPECT_EQ(api_->SubmitJob(Request("two"), alice).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Queued, the re-runs count as jobs, no longer as pending ones (here none is queued: the
  // pending count alone is cleared, as queuing them does).
  CreateJobsOptions queued;
  queued.pending_of_sweep = fits->sweep_id();
  std::vector<bool> created;
  ASSERT_TRUE(core_->store().CreateJobs({}, &created, queued).ok());
  EXPECT_TRUE(api_->SubmitJob(Request("two"), alice).ok());
  EXPECT_TRUE(api_->SubmitSweep(request, kAdmin).ok());  // an admin has no limit
}

TEST_F(CoordinatorTest, ClientsSeeAndChangeOnlyTheirOwnJobs) {
  const Caller alice = Caller::Client("alice"), bob = Caller::Client("bob");
  const Job mine = Submit("alices", 0, polytrain::v1::DEVICE_CPU, 0, alice);
  const Job theirs = Submit("bobs", 0, polytrain::v1::DEVICE_CPU, 0, bob);
  EXPECT_EQ(mine.owner(), "alice");

  polytrain::v1::GetJobRequest get;
  get.set_id(theirs.id());
  EXPECT_EQ(api_->GetJob(get, alice).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(api_->GetJob(get, alice).status().message(),
            "id: job " + theirs.id() + " belongs to another user");
  EXPECT_TRUE(api_->GetJob(get, bob).ok());
  polytrain::v1::GetJobRequest sweep;  // a sweep's id where a job's goes (probe CE)
  sweep.set_id("sweep-0123456789ab");
  EXPECT_EQ(api_->GetJob(sweep, alice).status(),
            absl::NotFoundError("id: no job sweep-0123456789ab (that is a sweep's id: GetSweep "
                                "reads the sweep and names its jobs)"));
  EXPECT_TRUE(api_->GetJob(get, Caller::Admin("ops")).ok());

  polytrain::v1::CancelJobRequest cancel;
  cancel.set_id(theirs.id());
  EXPECT_EQ(api_->CancelJob(cancel, alice).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(State(theirs.id()), polytrain::v1::JOB_STATE_QUEUED);  // untouched

  polytrain::v1::GetMetricsRequest metrics;
  metrics.set_job_id(theirs.id());
  EXPECT_EQ(api_->GetMetrics(metrics, alice).status().code(), absl::StatusCode::kPermissionDenied);

  RecordingWatcher watcher;
  polytrain::v1::WatchJobRequest watch;
  watch.set_id(theirs.id());
  EXPECT_EQ(api_->Watch(watch, &watcher, alice).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(watcher.events, 0);

  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(mine.id());
  compare.add_job_ids(theirs.id());
  EXPECT_EQ(api_->CompareJobs(compare, alice).status().message(),
            "job_ids[1]: job " + theirs.id() + " belongs to another user");

  // Listing: a client sees its own jobs, may name only itself; an admin sees all or filters.
  polytrain::v1::ListJobsRequest list;
  absl::StatusOr<polytrain::v1::ListJobsResponse> listed = api_->ListJobs(list, alice);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->jobs_size(), 1);
  EXPECT_EQ(listed->jobs(0).id(), mine.id());
  EXPECT_EQ(api_->ListJobs(list, Caller::Admin(""))->jobs_size(), 2);
  list.set_owner("bob");
  EXPECT_EQ(api_->ListJobs(list, alice).status().code(), absl::StatusCode::kPermissionDenied);
  listed = api_->ListJobs(list, Caller::Admin(""));
  ASSERT_EQ(listed->jobs_size(), 1);
  EXPECT_EQ(listed->jobs(0).id(), theirs.id());
}

TEST_F(CoordinatorTest, RetriesAreIdempotentPerOwner) {
  const Job first = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), "r1");
  const Job retry = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), "r1");
  EXPECT_EQ(retry.id(), first.id());
  // The same id with another spec is not a retry.
  polytrain::v1::SubmitJobRequest other = Request("a");
  other.mutable_spec()->set_epochs(2);
  other.set_client_request_id("r1");
  const absl::StatusOr<Job> changed = api_->SubmitJob(other, Caller::Client("alice"));
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(changed.status().message(),
            "client_request_id: 'r1' already names job " + first.id() +
                ", submitted with another spec; use a new id for a new job");
  // Bob's request id is his own: a new job, not a view of Alice's.
  const Job bobs = Submit("b", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("bob"), "r1");
  EXPECT_NE(bobs.id(), first.id());
  EXPECT_EQ(bobs.owner(), "bob");
  polytrain::v1::SubmitJobRequest request = Request("c");
  request.set_client_request_id("tab\there");
  EXPECT_EQ(api_->SubmitJob(request, kAdmin).status().message(),
            "client_request_id: use only printable ASCII characters");
}

TEST_F(CoordinatorTest, ASweepsJobsRequestIdsNeverMeetSubmitJobsOnes) {
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("grid").spec();
  sweep.mutable_base()->clear_loss();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.set_client_request_id("coll");
  sweep.set_validate_only(true);
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> plan =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string derived = plan->jobs(0).client_request_id();  // "coll/<loss>/<seed>"
  ASSERT_EQ(derived.find("coll/"), 0u) << derived;
  // A job submitted under that id first blocks neither the sweep's check nor the sweep itself.
  const Job job = Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), derived);
  EXPECT_TRUE(api_->SubmitSweep(sweep, Caller::Client("alice")).ok());
  sweep.set_validate_only(false);
  const absl::StatusOr<polytrain::v1::SubmitSweepResponse> stored =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->jobs(0).client_request_id(), derived);
  EXPECT_NE(stored->jobs(0).id(), job.id());
  // And each still answers its own retries.
  EXPECT_EQ(Submit("a", 0, polytrain::v1::DEVICE_CPU, 0, Caller::Client("alice"), derived).id(),
            job.id());
  EXPECT_EQ(api_->SubmitSweep(sweep, Caller::Client("alice"))->jobs(0).id(), stored->jobs(0).id());
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 2);
}

// A page token is bound to the query that gave it: the next page of the same query (the page
// size may change), never a page of another query or another caller's.
TEST_F(CoordinatorTest, APageTokenServesOnlyTheQueryThatGaveIt) {
  const Caller alice = Caller::Client("alice");
  for (int i = 0; i < 5; ++i)
    Submit("j" + std::to_string(i), 0, polytrain::v1::DEVICE_CPU, 0, alice);
  polytrain::v1::ListJobsRequest request;
  request.set_page_size(2);
  request.add_states(polytrain::v1::JOB_STATE_QUEUED);
  (*request.mutable_labels())["team"] = "x";
  absl::StatusOr<polytrain::v1::ListJobsResponse> first = api_->ListJobs(request, alice);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->jobs_size(), 0);  // no job has the label: no page after it
  EXPECT_TRUE(first->next_page_token().empty());
  request.clear_labels();
  first = api_->ListJobs(request, alice);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->jobs_size(), 2);
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  request.set_page_size(3);  // the page size may change
  absl::StatusOr<polytrain::v1::ListJobsResponse> rest = api_->ListJobs(request, alice);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->jobs_size(), 3);
  EXPECT_TRUE(rest->next_page_token().empty());

  const std::string other = "page_token: a token of another ListJobs";
  polytrain::v1::ListJobsRequest changed = request;
  changed.add_states(polytrain::v1::JOB_STATE_RUNNING);  // another filter
  EXPECT_EQ(api_->ListJobs(changed, alice).status().message().substr(0, other.size()), other);
  changed = request;
  (*changed.mutable_labels())["team"] = "x";
  EXPECT_EQ(api_->ListJobs(changed, alice).status().message().substr(0, other.size()), other);
  EXPECT_EQ(
      api_->ListJobs(request, Caller::Client("bob")).status().message().substr(0, other.size()),
      other);  // another caller
  EXPECT_EQ(api_->ListJobs(request, kAdmin).status().code(), absl::StatusCode::kInvalidArgument);
  changed = request;
  changed.set_page_token("1");  // a bare position, as tokens were once
  EXPECT_EQ(api_->ListJobs(changed, alice).status().message(),
            "page_token: not a token from a previous ListJobs");
}

TEST_F(CoordinatorTest, TimestampsHaveSubSecondResolution) {
  const Job job = Submit("quick");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  Finish(session, job);
  const Job done = Get(job.id());
  // Created, started and ended within a few milliseconds: whole-second clocks would make these
  // equal (and CompareJobs' seconds 0); nanosecond ones tell them apart.
  using google::protobuf::util::TimeUtil;
  EXPECT_LT(done.create_time(), done.start_time());
  EXPECT_LT(done.start_time(), done.end_time());
  EXPECT_LT(TimeUtil::DurationToSeconds(done.end_time() - done.create_time()), 5);
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_GT(table->jobs(0).seconds(), 0.0);
  EXPECT_LT(table->jobs(0).seconds(), 5.0);
}

TEST_F(CoordinatorTest, ComparisonCurvesKeepAtMostCurvePointsEndingAtTheLast) {
  const Job job = Submit("curves");
  RecordingChannel channel;
  const int64_t session = Connect("w", &channel);
  polytrain::v1::WorkerMessage message;
  message.mutable_metrics()->set_job_id(job.id());
  message.mutable_metrics()->set_attempt(1);
  for (int step = 10; step <= 50; step += 10) {
    polytrain::v1::MetricPoint* train = message.mutable_metrics()->add_points();
    train->set_kind(polytrain::v1::MetricPoint::KIND_TRAIN);
    train->set_step(step);
    (*train->mutable_values())["loss"] = 1.0 / step;
    polytrain::v1::MetricPoint* eval = message.mutable_metrics()->add_points();
    eval->set_kind(polytrain::v1::MetricPoint::KIND_EVAL);
    eval->set_step(step);
    (*eval->mutable_values())["eval_accuracy"] = step / 100.0;
  }
  ASSERT_TRUE(protocol_->Handle(session, message).ok());
  polytrain::v1::CompareJobsRequest compare;
  compare.add_job_ids(job.id());
  for (const auto& [limit, steps] :
       std::vector<std::pair<int, std::vector<int64_t>>>{{1, {50}},
                                                         {2, {10, 50}},
                                                         {3, {10, 30, 50}},
                                                         {5, {10, 20, 30, 40, 50}},
                                                         {6, {10, 20, 30, 40, 50}}}) {
    compare.set_curve_points(limit);
    absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
    ASSERT_TRUE(table.ok()) << table.status();
    const auto& curve = table->curves(0);
    EXPECT_EQ(std::vector<int64_t>(curve.eval_steps().begin(), curve.eval_steps().end()), steps)
        << "curve_points " << limit;
    EXPECT_EQ(std::vector<int64_t>(curve.train_steps().begin(), curve.train_steps().end()), steps)
        << "curve_points " << limit;
  }
}

TEST_F(CoordinatorTest, ASweepIsExpandedOnceAndARetryNamesTheSameSweep) {
  polytrain::v1::SubmitSweepRequest sweep;
  *sweep.mutable_base() = Request("grid").spec();
  sweep.mutable_base()->clear_loss();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.add_losses()->mutable_poly1()->set_epsilon(2);
  sweep.set_seeds(2);
  sweep.set_client_request_id("grid-1");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> first =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<std::string> names;
  for (const Job& job : first->jobs()) names.push_back(job.spec().name());
  EXPECT_EQ(names, (std::vector<std::string>{"grid-ce-s0", "grid-ce-s1", "grid-poly1-e-2-s0",
                                             "grid-poly1-e-2-s1"}));
  EXPECT_EQ(first->jobs(2).spec().labels().at("loss"), "poly1-e-2");
  EXPECT_EQ(first->jobs(2).loss_name(), "poly1(e=2)");
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> retry =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->sweep_id(), first->sweep_id());
  EXPECT_EQ(retry->jobs(3).id(), first->jobs(3).id());
  polytrain::v1::ListJobsRequest all;
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 4);  // not stored twice

  // The same id with other losses is a mistake, not more jobs in the first sweep.
  sweep.add_losses()->mutable_focal()->set_gamma(2);
  absl::Status changed = api_->SubmitSweep(sweep, Caller::Client("alice")).status();
  EXPECT_EQ(changed.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(changed.message(), "client_request_id: 'grid-1' already names sweep " +
                                   first->sweep_id() +
                                   ", submitted with other parameters; use a new id for a new "
                                   "sweep");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 4);

  // A retry that spells seeds 2 as before names the same sweep; one seed spelled 0 or 1 too.
  sweep.clear_losses();
  sweep.add_losses()->mutable_cross_entropy();
  sweep.set_seeds(0);
  sweep.set_client_request_id("grid-2");
  const std::string zero = api_->SubmitSweep(sweep, Caller::Client("alice"))->sweep_id();
  sweep.set_seeds(1);
  absl::StatusOr<polytrain::v1::SubmitSweepResponse> one =
      api_->SubmitSweep(sweep, Caller::Client("alice"));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->sweep_id(), zero);
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 5);

  // The label that makes a job a sweep's is the coordinator's alone.
  polytrain::v1::SubmitJobRequest intruder = Request("intruder");
  (*intruder.mutable_spec()->mutable_labels())["sweep"] = first->sweep_id();
  EXPECT_EQ(api_->SubmitJob(intruder, Caller::Client("alice")).status().message(),
            "spec.labels[\"sweep\"]: reserved: the coordinator sets it on the jobs of a sweep "
            "(SubmitSweep)");
  polytrain::v1::SubmitSweepRequest labelled = sweep;
  labelled.set_client_request_id("");
  (*labelled.mutable_base()->mutable_labels())["loss"] = "mine";
  EXPECT_EQ(api_->SubmitSweep(labelled, Caller::Client("alice")).status().message(),
            "base.labels[\"loss\"]: reserved: the coordinator sets it on each of the sweep's jobs");
  EXPECT_EQ(api_->ListJobs(all, kAdmin)->jobs_size(), 5);
  // Another user's job labelled with Alice's sweep (as a coordinator before the label was
  // reserved stored it) is not part of it.
  Job stored_intruder;
  *stored_intruder.mutable_spec() = intruder.spec();
  stored_intruder.set_owner("bob");
  stored_intruder.set_state(polytrain::v1::JOB_STATE_QUEUED);
  stored_intruder.set_loss_name("ce");
  ASSERT_TRUE(scheduler_->Submit({stored_intruder}).ok());
  polytrain::v1::GetSweepRequest get;
  get.set_id(first->sweep_id());
  absl::StatusOr<polytrain::v1::Sweep> report = api_->GetSweep(get, Caller::Client("alice"));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->trials_size(), 4);
  // Nor may Bob read Alice's sweep, by either call.
  EXPECT_EQ(api_->GetSweep(get, Caller::Client("bob")).status().code(),
            absl::StatusCode::kPermissionDenied);
  polytrain::v1::CompareJobsRequest compare;
  compare.set_sweep_id(first->sweep_id());
  EXPECT_EQ(api_->CompareJobs(compare, Caller::Client("bob")).status().message(),
            "sweep_id: sweep " + first->sweep_id() + " belongs to another user");
  EXPECT_NE(api_->CompareJobs(compare, Caller::Client("alice")).status().code(),
            absl::StatusCode::kPermissionDenied);
  // An admin's comparison of the sweep has its four jobs, not Bob's as well.
  EXPECT_EQ(api_->GetSweep(get, kAdmin)->trials_size(), 4);
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table = api_->CompareJobs(compare, kAdmin);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->jobs_size(), 4);
}

}  // namespace
}  // namespace polytrain
