#include "server/sqlite_job_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/sqlite_schema.h"
#include "server/sqlite_statement.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::MetricPoint;

// CreateJobs' options with an owner's limit only.
CreateJobsOptions Limit(int64_t owner_unended_limit) {
  CreateJobsOptions options;
  options.owner_unended_limit = owner_unended_limit;
  return options;
}

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/store_test_" + std::to_string(getpid()) + ".db";
    std::filesystem::remove(path_);
    store_ = *SqliteJobStore::Open(path_);
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  Job NewJob(const std::string& name, const std::string& request_id = "",
             std::map<std::string, std::string> labels = {}) {
    Job job;
    job.mutable_spec()->set_name(name);
    for (const auto& [k, v] : labels) (*job.mutable_spec()->mutable_labels())[k] = v;
    job.set_state(polytrain::v1::JOB_STATE_QUEUED);
    job.set_client_request_id(request_id);
    bool created = false;
    absl::StatusOr<Job> stored = store_->CreateJob(job, &created);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return *stored;
  }
  // Runs `sql` on the store's file through a connection of its own: a trigger that makes a write
  // fail, as a full disk would, or drops one.
  void Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }
  static constexpr char kRefusePriority999[] =
      "CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.priority = 999 "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END";

  // SQLite's plan for `sql` (its parameters unbound), one step per line; the store is closed.
  std::string QueryPlan(const std::string& sql) {
    store_.reset();
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string plan;
    sqlite3_stmt* statement = nullptr;
    const std::string explain = "EXPLAIN QUERY PLAN " + sql;
    EXPECT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &statement, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
      plan += "\n";
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return plan;
  }
  std::string path_;
  std::unique_ptr<SqliteJobStore> store_;
};

TEST_F(SqliteJobStoreTest, JobsSurviveReopening) {
  const Job job = NewJob("a");
  EXPECT_EQ(job.id().size(), 16u);
  EXPECT_GT(job.create_time().seconds(), 0);
  Job running = job;
  running.set_state(polytrain::v1::JOB_STATE_RUNNING);
  running.set_attempts(1);
  ASSERT_TRUE(store_->UpdateJob(running).ok());
  store_.reset();
  store_ = *SqliteJobStore::Open(path_);
  absl::StatusOr<Job> again = store_->GetJob(job.id());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state(), polytrain::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(again->attempts(), 1);
  EXPECT_EQ(store_->GetJob("job-000000000000").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SqliteJobStoreTest, AnUnendedJobIsFoundByItsLabelAndOwner) {
  const Job first = NewJob("a", "", {{"sweep", "s1"}});
  const Job second = NewJob("b", "", {{"sweep", "s1"}});
  NewJob("c", "", {{"sweep", "s2"}});  // another sweep's, queued
  auto unended = [&](const std::string& owner, const std::string& sweep) {
    absl::StatusOr<bool> found = store_->HasUnendedJobLabelled(owner, "sweep", sweep);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && *found;
  };
  EXPECT_TRUE(unended("", "s1"));
  EXPECT_FALSE(unended("mallory", "s1"));  // a label is its owner's
  for (Job job : {first, second}) {
    EXPECT_TRUE(unended("", "s1"));
    job.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
    ASSERT_TRUE(store_->UpdateJob(job).ok());
  }
  EXPECT_FALSE(unended("", "s1"));
  EXPECT_TRUE(unended("", "s2"));
  using Counts = std::pair<int64_t, int64_t>;  // jobs, ended
  EXPECT_EQ(*store_->CountJobsLabelled("", "sweep", "s1"), Counts(2, 2));
  EXPECT_EQ(*store_->CountJobsLabelled("", "sweep", "s2"), Counts(1, 0));
  EXPECT_EQ(*store_->CountJobsLabelled("mallory", "sweep", "s1"), Counts(0, 0));
}

TEST_F(SqliteJobStoreTest, ClientRequestIdMakesSubmitIdempotent) {
  const Job first = NewJob("a", "req-1");
  Job retry;
  retry.mutable_spec()->set_name("a");
  retry.set_client_request_id("req-1");
  bool created = true;
  absl::StatusOr<Job> second = store_->CreateJob(retry, &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(second->id(), first.id());
  EXPECT_NE(NewJob("a", "req-2").id(), first.id());
}

TEST_F(SqliteJobStoreTest, ListFiltersAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(NewJob("j" + std::to_string(i), "", {{"team", i % 2 ? "odd" : "even"}}).id());
  }
  Job done = *store_->GetJob(ids[4]);
  done.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(store_->UpdateJob(done).ok());

  JobFilter filter;
  filter.page_size = 2;
  absl::StatusOr<JobPage> page = store_->ListJobs(filter);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 2u);
  EXPECT_EQ(page->jobs[0].id(), ids[4]);  // newest first
  std::vector<std::string> seen = {page->jobs[0].id(), page->jobs[1].id()};
  while (!page->next_page_token.empty()) {
    filter.page_token = page->next_page_token;
    page = store_->ListJobs(filter);
    ASSERT_TRUE(page.ok());
    for (const Job& j : page->jobs) seen.push_back(j.id());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));

  JobFilter even;
  even.labels = {{"team", "even"}};
  even.states = {polytrain::v1::JOB_STATE_QUEUED};
  page = store_->ListJobs(even);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 2u);  // j0 and j2; j4 is even but succeeded
  EXPECT_EQ(page->jobs[0].id(), ids[2]);
  EXPECT_EQ(page->jobs[1].id(), ids[0]);

  JobFilter bad;
  for (const char* token :
       {"garbage", "+5", " 5", "-1", "0", "-9223372036854775808", "99999999999999999999", "5 "}) {
    bad.page_token = token;
    EXPECT_EQ(store_->ListJobs(bad).status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(store_->ListArtifacts(std::nullopt, 10, token).status().code(),
              absl::StatusCode::kInvalidArgument)
        << token;
  }

  absl::StatusOr<std::vector<Job>> queued = store_->JobsInStates({polytrain::v1::JOB_STATE_QUEUED});
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 4u);
  EXPECT_EQ((*queued)[0].id(), ids[0]);  // oldest first
}

TEST_F(SqliteJobStoreTest, APageEndsBeforeItsJobsPassMaxBytes) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(NewJob(std::string(1000, 'a' + i)).id());
  const int64_t one = static_cast<int64_t>(store_->GetJob(ids[0])->ByteSizeLong());
  JobFilter filter;
  filter.max_bytes = 2 * one + one / 2;  // room for two jobs, not three
  absl::StatusOr<JobPage> page = store_->ListJobs(filter);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 2u);
  ASSERT_FALSE(page->next_page_token.empty());
  filter.page_token = page->next_page_token;
  page = store_->ListJobs(filter);
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id(), ids[0]);
  EXPECT_TRUE(page->next_page_token.empty());
  // A job larger than the bound still comes, alone: a page is never empty while jobs remain.
  filter.page_token.clear();
  filter.max_bytes = 1;
  page = store_->ListJobs(filter);
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id(), ids[2]);
}

TEST_F(SqliteJobStoreTest, ReplayedMetricPointsAreNotCountedTwice) {
  const Job job = NewJob("m");
  std::vector<MetricPoint> batch(3);
  for (int i = 0; i < 3; ++i) {
    batch[i].set_kind(MetricPoint::KIND_TRAIN);
    batch[i].set_step(10 * (i + 1));
    (*batch[i].mutable_values())["loss"] = 1.0 / (i + 1);
  }
  ASSERT_TRUE(store_->AddMetrics(job.id(), batch).ok());
  batch[2].mutable_values()->at("loss") = 0.25;  // a resumed attempt re-reports step 30
  MetricPoint eval;
  eval.set_kind(MetricPoint::KIND_EVAL);
  eval.set_step(30);
  ASSERT_TRUE(store_->AddMetrics(job.id(), {batch[1], batch[2], eval}).ok());
  absl::StatusOr<std::vector<MetricPoint>> points = store_->GetMetrics(job.id());
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 4u);
  EXPECT_EQ((*points)[2].values().at("loss"), 0.25);
  EXPECT_EQ((*points)[3].kind(), MetricPoint::KIND_EVAL);  // train before eval at one step
  ASSERT_EQ(store_->GetMetricsOfKind(job.id(), MetricPoint::KIND_EVAL)->size(), 1u);
  EXPECT_EQ(store_->GetMetricsOfKind(job.id(), MetricPoint::KIND_TRAIN)->back().step(), 30);

  // A new attempt resumes from step 20: what the dead one stored past it goes, step 20 stays.
  ASSERT_TRUE(store_->DeleteMetricsAfter(job.id(), 20).ok());
  points = store_->GetMetrics(job.id());
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ(points->back().step(), 20);
  Job other = NewJob("other");
  ASSERT_TRUE(store_->AddMetrics(other.id(), {batch[0]}).ok());
  ASSERT_TRUE(store_->DeleteMetricsAfter(job.id(), 0).ok());  // only this job's points
  EXPECT_TRUE(store_->GetMetrics(job.id())->empty());
  EXPECT_EQ(store_->GetMetrics(other.id())->size(), 1u);
}

TEST_F(SqliteJobStoreTest, ABatchIsStoredWholeOrNotAtAll) {
  auto spec_job = [](const std::string& name, int priority, const std::string& request_id) {
    Job job;
    job.mutable_spec()->set_name(name);
    job.mutable_spec()->set_priority(priority);
    (*job.mutable_spec()->mutable_labels())["sweep"] = "s1";
    job.set_state(polytrain::v1::JOB_STATE_QUEUED);
    job.set_client_request_id(request_id);
    return job;
  };
  // The database refuses the third insert, as a full disk would.
  Exec(kRefusePriority999);
  std::vector<bool> created;
  absl::StatusOr<std::vector<Job>> failed = store_->CreateJobs(
      {spec_job("a", 0, "r/0"), spec_job("b", 0, "r/1"), spec_job("c", 999, "r/2")}, &created);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("injected failure"), std::string::npos)
      << failed.status();
  JobFilter everything;
  EXPECT_TRUE(store_->ListJobs(everything)->jobs.empty());  // not a and b without c

  // Retried once the cause is gone: all three, each once, in order.
  Exec("DROP TRIGGER refuse");
  absl::StatusOr<std::vector<Job>> stored = store_->CreateJobs(
      {spec_job("a", 0, "r/0"), spec_job("b", 0, "r/1"), spec_job("c", 999, "r/2")}, &created);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(created, (std::vector<bool>{true, true, true}));
  EXPECT_EQ((*stored)[2].spec().name(), "c");
  absl::StatusOr<std::vector<Job>> again =
      store_->CreateJobs({spec_job("a", 0, "r/0"), spec_job("d", 0, "r/3")}, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(created, (std::vector<bool>{false, true}));
  EXPECT_EQ((*again)[0].id(), (*stored)[0].id());
  EXPECT_EQ(store_->ListJobs(everything)->jobs.size(), 4u);
}

TEST_F(SqliteJobStoreTest, AnOwnersUnendedJobsAreBoundedAtTheLimit) {
  auto owned = [](const std::string& owner, const std::string& request_id = "") {
    Job job;
    job.set_owner(owner);
    job.mutable_spec()->set_name("j");
    job.set_state(polytrain::v1::JOB_STATE_QUEUED);
    job.set_client_request_id(request_id);
    return job;
  };
  std::vector<bool> created;
  // Two, then a third that ends: "a" has 2 unended, and "b"'s jobs are not "a"'s.
  ASSERT_TRUE(store_->CreateJobs({owned("a", "r1"), owned("a")}, &created, Limit(3)).ok());
  absl::StatusOr<std::vector<Job>> ended = store_->CreateJobs({owned("a")}, &created, Limit(3));
  ASSERT_TRUE(ended.ok());
  Job done = (*ended)[0];
  done.set_state(polytrain::v1::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(store_->UpdateJob(done).ok());
  ASSERT_TRUE(store_->CreateJobs({owned("b"), owned("b"), owned("b")}, &created, Limit(3)).ok());

  // One past the limit: refused whole, naming the limit; nothing stored.
  absl::StatusOr<std::vector<Job>> over =
      store_->CreateJobs({owned("a"), owned("a")}, &created, Limit(3));
  ASSERT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_NE(over.status().message().find("client 'a' has 2 jobs queued, running or paused and this "
                                         "request adds 2; at most 3"),
            std::string::npos)
      << over.status();
  EXPECT_NE(over.status().message().find("--max_unended_jobs_per_client"), std::string::npos);
  JobFilter of_a;
  of_a.owner = "a";
  EXPECT_EQ(store_->ListJobs(of_a)->jobs.size(), 3u);

  // At the limit: taken. Then a retry of a stored job adds nothing and is never refused.
  ASSERT_TRUE(store_->CreateJobs({owned("a")}, &created, Limit(3)).ok());
  absl::StatusOr<std::vector<Job>> retry =
      store_->CreateJobs({owned("a", "r1")}, &created, Limit(3));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(created, std::vector<bool>{false});
  absl::StatusOr<std::vector<Job>> full = store_->CreateJobs({owned("a")}, &created, Limit(3));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("has 3 jobs"), std::string::npos) << full.status();
  // Without a limit (an admin's submit), none applies.
  EXPECT_TRUE(store_->CreateJobs({owned("a")}, &created).ok());
  EXPECT_EQ(store_->ListJobs(of_a)->jobs.size(), 5u);
  // Past the limit the count is said as a bound (5 here): it stops one past the limit.
  full = store_->CreateJobs({owned("a")}, &created, Limit(3));
  EXPECT_NE(full.status().message().find("has 4 or more jobs"), std::string::npos) << full.status();
}

// A search's re-runs are its pending jobs until they are queued, and queued they clear that
// count in their own transaction: never counted twice, and not cleared by a failed insert.
TEST_F(SqliteJobStoreTest, ASearchsQueuedRerunsClearItsPendingJobsWithThem) {
  auto owned = [](int priority) {
    Job job;
    job.set_owner("a");
    job.mutable_spec()->set_name("j");
    job.mutable_spec()->set_priority(priority);
    job.set_state(polytrain::v1::JOB_STATE_QUEUED);
    return job;
  };
  polytrain::v1::Sweep search;
  search.set_id("sweep-1");
  search.set_owner("a");
  search.set_state(polytrain::v1::Sweep::SWEEP_STATE_RUNNING);
  CreateJobsOptions submit = Limit(4);
  submit.sweep = &search;
  submit.later_jobs = 2;
  std::vector<bool> created;
  ASSERT_TRUE(store_->CreateJobs({owned(0)}, &created, submit).ok());  // one trial, 2 pending
  // 1 job and 2 pending: two more do not fit under 4, one does.
  EXPECT_EQ(store_->CheckUnendedJobs("a", 2, 0, 4).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(store_->CheckUnendedJobs("a", 1, 0, 4).ok());

  // A failed insert of the re-runs leaves them pending.
  Exec(kRefusePriority999);
  CreateJobsOptions reruns;
  reruns.pending_of_sweep = "sweep-1";
  ASSERT_FALSE(store_->CreateJobs({owned(0), owned(999)}, &created, reruns).ok());
  EXPECT_EQ(store_->CheckUnendedJobs("a", 2, 0, 4).code(), absl::StatusCode::kResourceExhausted);
  Exec("DROP TRIGGER refuse");
  // And a failed clear stores none of them: one transaction.
  Exec(
      "CREATE TRIGGER refuse BEFORE UPDATE OF pending_jobs ON sweeps "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  ASSERT_FALSE(store_->CreateJobs({owned(0), owned(999)}, &created, reruns).ok());
  JobFilter everything;
  EXPECT_EQ(store_->ListJobs(everything)->jobs.size(), 1u);  // the trial alone
  Exec("DROP TRIGGER refuse");

  // Queued: 3 jobs and none pending (counted twice, 5, one more would not fit under 4).
  ASSERT_TRUE(store_->CreateJobs({owned(0), owned(999)}, &created, reruns).ok());
  EXPECT_TRUE(store_->CheckUnendedJobs("a", 1, 0, 4).ok());
  EXPECT_EQ(store_->CheckUnendedJobs("a", 2, 0, 4).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(SqliteJobStoreTest, CountingUnendedJobsUsesTheOwnerStateIndex) {
  const std::string plan = QueryPlan(SqliteJobStore::CountUnendedSql());
  EXPECT_NE(plan.find("COVERING INDEX jobs_by_owner_state"), std::string::npos) << plan;
}

// Retention's read: the jobs in a final state that ended before a time, the longest ended
// first, through the end-time index (no job record read, no sort).
TEST_F(SqliteJobStoreTest, JobsEndedBeforeATimeAreFoundByTheirEndTime) {
  auto end = [this](Job job, polytrain::v1::JobState state, int64_t end_ms) {
    job.set_state(state);
    *job.mutable_end_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(end_ms);
    EXPECT_TRUE(store_->UpdateJob(job).ok());
    return job;
  };
  const Job late = end(NewJob("late"), polytrain::v1::JOB_STATE_SUCCEEDED, 3000);
  const Job early = end(NewJob("early"), polytrain::v1::JOB_STATE_CANCELLED, 1000);
  end(NewJob("edge"), polytrain::v1::JOB_STATE_FAILED, 5000);  // not before 5000
  NewJob("queued");
  // A stopped search trial resumed: queued again, its end_time of the stop kept, not ended.
  end(end(NewJob("resumed"), polytrain::v1::JOB_STATE_STOPPED, 500),
      polytrain::v1::JOB_STATE_QUEUED, 500);
  EXPECT_EQ(*store_->JobsEndedBefore(5000), (std::vector<std::string>{early.id(), late.id()}));
  EXPECT_EQ(*store_->JobsEndedBefore(1000), std::vector<std::string>{});
  const std::string plan = QueryPlan(SqliteJobStore::JobsEndedBeforeSql());
  EXPECT_NE(plan.find("INDEX jobs_by_end"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// A page of one state's jobs (or one owner's) walks an index in the page's order and stops at
// its limit: no sort of every job in the state.
TEST_F(SqliteJobStoreTest, AStateFilterWalksAnIndexInPageOrder) {
  JobFilter filter;
  filter.states = {polytrain::v1::JOB_STATE_SUCCEEDED};
  std::string plan = QueryPlan(SqliteJobStore::ListJobsSql(filter));
  EXPECT_NE(plan.find("jobs_by_state_seq"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  filter.owner = "a";
  plan = QueryPlan(SqliteJobStore::ListJobsSql(filter));
  EXPECT_NE(plan.find("jobs_by_owner_state"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// A sweep's jobs are found through the label index, not by reading every job: the plan of the
// query ListJobs runs for a label, owner and states names the index.
TEST_F(SqliteJobStoreTest, ALabelFilterUsesTheLabelIndex) {
  JobFilter filter;
  filter.states = {polytrain::v1::JOB_STATE_QUEUED};
  filter.owner = "a";
  filter.labels = {{"sweep", "s-1"}, {"team", "x"}};
  const std::string plan = QueryPlan(SqliteJobStore::ListJobsSql(filter));
  EXPECT_NE(plan.find("job_labels_by_value"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("jobs_by_owner"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("jobs_by_state"), std::string::npos) << plan;
}

// A database that cannot grow (a full disk; here SQLite's page limit, which fails the same way)
// is RESOURCE_EXHAUSTED, said as such, where any other failure stays INTERNAL.
TEST(SqliteStatusTest, AFullDatabaseIsResourceExhausted) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_TRUE(sqlite::Exec(db, "CREATE TABLE t (v BLOB)").ok());
  ASSERT_TRUE(sqlite::Exec(db, "PRAGMA max_page_count = 3").ok());
  const absl::Status full = sqlite::Exec(db, "INSERT INTO t SELECT zeroblob(100000)");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_NE(full.message().find("(the coordinator's --db disk is full)"), std::string::npos)
      << full;
  const absl::Status other = sqlite::Exec(db, "INSERT INTO no_such_table VALUES (1)");
  EXPECT_EQ(other.code(), absl::StatusCode::kInternal) << other;
  sqlite3_close(db);
}

}  // namespace
}  // namespace polytrain
