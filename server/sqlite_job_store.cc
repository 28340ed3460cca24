#include "server/sqlite_job_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/artifacts.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/timestamps.h"
#include "common/validation.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/sqlite_schema.h"
#include "server/sqlite_statement.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;
using polytrain::v1::JobState;
using sqlite::Exec;
using sqlite::Statement;
using sqlite::Transaction;

std::string NewJobId() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}() ^
                             std::chrono::steady_clock::now().time_since_epoch().count());
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrFormat("job-%012x", rng() & 0xffffffffffffULL);
}

absl::StatusOr<Job> ParseJob(const std::string& blob) {
  Job job;
  if (!job.ParseFromString(blob)) return absl::DataLossError("sqlite: a stored job does not parse");
  return job;
}

// The stored key of a job's client_request_id. A sweep's jobs ("<sweep's id>/<loss>/<k>") keep
// theirs apart from SubmitJob's, so that a job submitted as "a/0/0" neither blocks sweep "a" nor
// is blocked by it.
std::string StoredRequestKey(const Job& job) {
  std::string key = RequestKey(job.owner(), job.client_request_id());
  if (job.spec().labels().contains(kSweepLabel)) key += "\x1esweep";
  return key;
}

// The job `job` retries (the one its owner stored under the same client_request_id), if any.
// The same id with another spec is a mistake (or another client's key), not a retry: refused,
// as a sweep's is.
absl::StatusOr<std::optional<Job>> FindRetried(sqlite3* db, const Job& job) {
  if (job.client_request_id().empty()) return std::nullopt;
  Statement find(db, "SELECT job FROM jobs WHERE client_request_id = ?");
  find.Bind(1, StoredRequestKey(job));
  const int rc = find.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return find.status("find request id");
  absl::StatusOr<Job> existing = ParseJob(find.Blob(0));
  if (!existing.ok()) return existing.status();
  if (!google::protobuf::util::MessageDifferencer::Equals(existing->spec(), job.spec())) {
    return absl::AlreadyExistsError(
        absl::StrCat("client_request_id: ", Quote(job.client_request_id()), " already names job ",
                     existing->id(), ", submitted with another spec; use a new id for a new job"));
  }
  return *std::move(existing);
}

// How many of `owner`'s jobs are queued, running or paused, counting at most `cap` of them.
absl::StatusOr<int64_t> CountUnended(sqlite3* db, const std::string& owner, int64_t cap) {
  Statement count(db, SqliteJobStore::CountUnendedSql());
  count.Bind(1, owner);
  count.Bind(2, polytrain::v1::JOB_STATE_QUEUED);
  count.Bind(3, polytrain::v1::JOB_STATE_RUNNING);
  count.Bind(4, polytrain::v1::JOB_STATE_PAUSED);
  count.Bind(5, cap);
  if (count.Step() != SQLITE_ROW) return count.status("count unended jobs");
  return count.Int(0);
}

// The jobs `owner`'s running searches will queue later (their re-runs), but `except`'s.
absl::StatusOr<int64_t> CountPending(sqlite3* db, const std::string& owner,
                                     const std::string& except) {
  Statement sum(db,
                "SELECT COALESCE(SUM(pending_jobs), 0) FROM sweeps "
                "WHERE owner = ? AND state = ? AND id != ?");
  sum.Bind(1, owner);
  sum.Bind(2, polytrain::v1::Sweep::SWEEP_STATE_RUNNING);
  sum.Bind(3, except);
  if (sum.Step() != SQLITE_ROW) return sum.status("count pending jobs");
  return sum.Int(0);
}

// What a request holds against its owner's limit: `added` jobs now and `later` ones it will
// queue later (a search's re-runs); what the owner holds: `before` unended jobs (`exact`: else
// the count stopped there, past the limit) and `pending` ones its running searches will queue.
struct UnendedCount {
  int64_t before = 0;
  bool exact = true;
  int64_t pending = 0;
  int64_t added = 0;
  int64_t later = 0;
};

// RESOURCE_EXHAUSTED when the request's jobs would give `owner` more than `limit`.
absl::Status CheckUnendedLimit(const std::string& owner, const UnendedCount& n, int64_t limit) {
  if (n.added == 0 || n.before + n.pending + n.added + n.later <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "client ", Quote(owner), " has ",
      n.exact ? absl::StrCat(n.before) : absl::StrCat(n.before, " or more"),
      n.before == 1 && n.exact ? " job" : " jobs", " queued, running or paused",
      n.pending > 0 ? absl::StrCat(" and ", n.pending, " more its searches will queue;") : " and",
      " this request adds ", n.added,
      n.later > 0 ? absl::StrCat(" and up to ", n.later,
                                 " re-runs of its best losses and the baseline once its trials end")
                  : "",
      "; at most ", limit,
      " at once (coordinator flag --max_unended_jobs_per_client): wait for some to end or "
      "cancel some"));
}

}  // namespace

int SqliteJobStore::CurrentSchemaVersion() { return static_cast<int>(SchemaMigrations().size()); }

absl::StatusOr<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::string& path) {
  std::unique_ptr<SqliteJobStore> store(new SqliteJobStore());
  auto open = [&path](sqlite3** db) -> absl::Status {
    if (sqlite3_open_v2(path.c_str(), db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--db ", path, ": cannot open: ", *db ? sqlite3_errmsg(*db) : "out of memory"));
    }
    sqlite3_busy_timeout(*db, 5000);
    return absl::OkStatus();
  };
  if (absl::Status s = open(&store->writer_.db); !s.ok()) return s;
  // Every later error names the file: it is the --db flag's.
  auto named = [&path](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("--db ", path, ": ", s.message()));
  };
  // Before anything is written to it (WAL mode is a write): another program's database is left
  // as it was.
  if (absl::Status s = store->CheckIsOurs(); !s.ok()) return named(s);
  // WAL: readers never block the writer; NORMAL sync keeps every committed transaction across a
  // process crash (a power loss may drop the last ones).
  if (absl::Status s =
          Exec(store->writer_.db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
      !s.ok()) {
    return named(SaidIfReadOnly(store->writer_.db, s));
  }
  if (absl::Status s = store->Migrate(); !s.ok()) return named(s);
  if (path != ":memory:" && !path.empty()) {
    if (absl::Status s = open(&store->own_reader_.db); !s.ok()) return s;
    store->reader_ = &store->own_reader_;
  }
  return store;
}

SqliteJobStore::~SqliteJobStore() {
  sqlite3_close(own_reader_.db);
  sqlite3_close(writer_.db);
}

absl::StatusOr<std::vector<Job>> SqliteJobStore::CreateJobs(std::vector<Job> jobs,
                                                            std::vector<bool>* created,
                                                            const CreateJobsOptions& options) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  created->assign(jobs.size(), false);
  std::vector<bool> made(jobs.size(), false);
  Transaction tx(db);
  POLYTRAIN_RETURN_IF_ERROR(tx.begun());
  const polytrain::v1::Sweep* sweep = options.sweep;
  if (sweep != nullptr) POLYTRAIN_RETURN_IF_ERROR(InsertSweep(db, *sweep, options.later_jobs));
  if (!options.pending_of_sweep.empty()) {
    POLYTRAIN_RETURN_IF_ERROR(ClearPendingJobs(db, options.pending_of_sweep));
  }
  Statement insert(db,
                   "INSERT INTO jobs (id, state, priority, client_request_id, job, owner) "
                   "VALUES (?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return insert.status("insert job");
  for (size_t i = 0; i < jobs.size(); ++i) {
    Job& job = jobs[i];
    absl::StatusOr<std::optional<Job>> retried = FindRetried(db, job);
    if (!retried.ok()) return retried.status();
    if (retried->has_value()) {
      job = **std::move(retried);
      continue;
    }
    job.set_id(NewJobId());
    *job.mutable_create_time() = NowTimestamp();
    insert.Reset();
    insert.Bind(1, job.id());
    insert.Bind(2, job.state());
    insert.Bind(3, job.spec().priority());
    if (job.client_request_id().empty()) {
      insert.BindNull(4);
    } else {
      insert.Bind(4, StoredRequestKey(job));
    }
    insert.BindBlob(5, job.SerializeAsString());
    insert.Bind(6, job.owner());
    if (insert.Step() != SQLITE_DONE) return insert.status("insert job");
    for (const auto& [key, value] : job.spec().labels()) {
      Statement label(db, "INSERT INTO job_labels (job_id, key, value) VALUES (?, ?, ?)");
      label.Bind(1, job.id());  // a handful of labels at most: no need to reuse the statement
      label.Bind(2, key);
      label.Bind(3, value);
      if (label.Step() != SQLITE_DONE) return label.status("insert label");
    }
    for (const NamedArtifact& artifact : ArtifactsNamedBy(job.spec())) {
      Statement names(db,
                      "INSERT OR IGNORE INTO job_artifacts (artifact_id, job_id) VALUES (?, ?)");
      names.Bind(1, artifact.id);
      names.Bind(2, job.id());
      if (names.Step() != SQLITE_DONE) return names.status("insert job artifact");
    }
    made[i] = true;
  }
  const int64_t added = std::count(made.begin(), made.end(), true);
  const std::optional<int64_t>& owner_unended_limit = options.owner_unended_limit;
  if (owner_unended_limit.has_value() && added > 0) {
    // Counted with the new rows in, inside the transaction: two submits at once cannot both fit
    // in the last places.
    const std::string& owner = jobs.front().owner();
    const int64_t cap = *owner_unended_limit + added + 1;
    absl::StatusOr<int64_t> unended = CountUnended(db, owner, cap);
    if (!unended.ok()) return unended.status();
    absl::StatusOr<int64_t> pending = CountPending(db, owner, sweep == nullptr ? "" : sweep->id());
    if (!pending.ok()) return pending.status();
    POLYTRAIN_RETURN_IF_ERROR(CheckUnendedLimit(
        owner, {*unended - added, *unended < cap, *pending, added, options.later_jobs},
        *owner_unended_limit));
  }
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  *created = std::move(made);
  return jobs;
}

absl::Status SqliteJobStore::CheckUnendedJobs(const std::string& owner, int64_t added,
                                              int64_t later_jobs, int64_t limit) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  absl::StatusOr<int64_t> before = CountUnended(reader_->db, owner, limit + 1);
  if (!before.ok()) return before.status();
  absl::StatusOr<int64_t> pending = CountPending(reader_->db, owner, "");
  if (!pending.ok()) return pending.status();
  return CheckUnendedLimit(owner, {*before, *before <= limit, *pending, added, later_jobs}, limit);
}

absl::StatusOr<std::optional<Job>> SqliteJobStore::RetriedJob(const Job& job) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  return FindRetried(reader_->db, job);
}

absl::StatusOr<Job> SqliteJobStore::GetJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement get(reader_->db, "SELECT job FROM jobs WHERE id = ?");
  get.Bind(1, id);
  const int rc = get.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("id: no job ", id));
  if (rc != SQLITE_ROW) return get.status("get job");
  return ParseJob(get.Blob(0));
}

absl::Status SqliteJobStore::UpdateJob(const Job& job) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Statement update(db, "UPDATE jobs SET state = ?, job = ?, end_ms = ? WHERE id = ?");
  update.Bind(1, job.state());
  update.BindBlob(2, job.SerializeAsString());
  if (std::optional<int64_t> end_ms = EndMillis(job); end_ms.has_value()) {
    update.Bind(3, *end_ms);
  } else {
    update.BindNull(3);
  }
  update.Bind(4, job.id());
  if (update.Step() != SQLITE_DONE) return update.status("update job");
  if (sqlite3_changes(db) == 0) return absl::NotFoundError(absl::StrCat("id: no job ", job.id()));
  return absl::OkStatus();
}

bool SqliteJobStore::ParsePageToken(const std::string& token, int64_t* before) {
  if (token.empty() || !std::all_of(token.begin(), token.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  return absl::SimpleAtoi(token, before) && *before >= 1;
}

const char* SqliteJobStore::CountUnendedSql() {
  return "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE owner = ? AND state IN (?, ?, ?) LIMIT ?)";
}

std::string SqliteJobStore::ListJobsSql(const JobFilter& filter) {
  std::string sql = "SELECT seq, job FROM jobs WHERE seq < ?";
  // With a label, its index finds the few jobs: '+' keeps SQLite from walking the state or owner
  // index over every job instead (it has no statistics to know better).
  const std::string column_prefix = filter.labels.empty() ? "" : "+";
  if (!filter.states.empty()) {
    sql += " AND " + column_prefix + "state IN (";
    for (size_t i = 0; i < filter.states.size(); ++i) sql += i == 0 ? "?" : ", ?";
    sql += ")";
  }
  if (filter.owner.has_value()) sql += " AND " + column_prefix + "owner = ?";
  for (size_t i = 0; i < filter.labels.size(); ++i) {
    sql += " AND jobs.id IN (SELECT job_id FROM job_labels WHERE key = ? AND value = ?)";
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  return sql;
}

absl::StatusOr<JobPage> SqliteJobStore::ListJobs(const JobFilter& filter) {
  int64_t before = INT64_MAX;
  if (!filter.page_token.empty() && !ParsePageToken(filter.page_token, &before)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous ListJobs");
  }
  const std::string sql = ListJobsSql(filter);
  std::lock_guard<std::mutex> lock(reader_->mu);
  sqlite3* db = reader_->db;
  Statement list(db, sql.c_str());
  if (!list.ok()) return list.status("list jobs");
  int arg = 1;
  list.Bind(arg++, before);
  for (JobState state : filter.states) list.Bind(arg++, state);
  if (filter.owner.has_value()) list.Bind(arg++, *filter.owner);
  for (const auto& [key, value] : filter.labels) {
    list.Bind(arg++, key);
    list.Bind(arg++, value);
  }
  list.Bind(arg++, filter.page_size + 1);
  JobPage page;
  int64_t last_seq = 0, bytes = 0;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    const std::string blob = list.Blob(1);
    bytes += static_cast<int64_t>(blob.size());
    const bool full = filter.max_bytes > 0 && !page.jobs.empty() && bytes > filter.max_bytes;
    if (static_cast<int>(page.jobs.size()) == filter.page_size || full) {
      page.next_page_token = absl::StrCat(last_seq);
      break;
    }
    absl::StatusOr<Job> job = ParseJob(blob);
    if (!job.ok()) return job.status();
    page.jobs.push_back(*std::move(job));
    last_seq = list.Int(0);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return list.status("list jobs");
  return page;
}

absl::StatusOr<std::vector<Job>> SqliteJobStore::JobsInStates(const std::vector<JobState>& states) {
  std::string sql = "SELECT job FROM jobs WHERE state IN (";
  for (size_t i = 0; i < states.size(); ++i) sql += i == 0 ? "?" : ", ?";
  sql += ") ORDER BY seq";
  std::lock_guard<std::mutex> lock(reader_->mu);
  sqlite3* db = reader_->db;
  Statement select(db, sql.c_str());
  if (!select.ok()) return select.status("jobs in states");
  for (size_t i = 0; i < states.size(); ++i) select.Bind(static_cast<int>(i + 1), states[i]);
  std::vector<Job> jobs;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    absl::StatusOr<Job> job = ParseJob(select.Blob(0));
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  }
  if (rc != SQLITE_DONE) return select.status("jobs in states");
  return jobs;
}

absl::StatusOr<bool> SqliteJobStore::HasUnendedJobLabelled(const std::string& owner,
                                                           const std::string& key,
                                                           const std::string& value) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement find(reader_->db,
                 "SELECT 1 FROM job_labels JOIN jobs ON jobs.id = job_labels.job_id "
                 "WHERE job_labels.key = ? AND job_labels.value = ? AND jobs.owner = ? "
                 "AND jobs.state IN (?, ?, ?) LIMIT 1");
  find.Bind(1, key);
  find.Bind(2, value);
  find.Bind(3, owner);
  find.Bind(4, polytrain::v1::JOB_STATE_QUEUED);
  find.Bind(5, polytrain::v1::JOB_STATE_RUNNING);
  find.Bind(6, polytrain::v1::JOB_STATE_PAUSED);
  const int rc = find.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return find.status("find unended labelled jobs");
  return rc == SQLITE_ROW;
}

absl::StatusOr<std::pair<int64_t, int64_t>> SqliteJobStore::CountJobsLabelled(
    const std::string& owner, const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement count(reader_->db,
                  "SELECT COUNT(*), COALESCE(SUM(jobs.state NOT IN (?, ?, ?)), 0) "
                  "FROM job_labels JOIN jobs ON jobs.id = job_labels.job_id "
                  "WHERE job_labels.key = ? AND job_labels.value = ? AND jobs.owner = ?");
  count.Bind(1, polytrain::v1::JOB_STATE_QUEUED);
  count.Bind(2, polytrain::v1::JOB_STATE_RUNNING);
  count.Bind(3, polytrain::v1::JOB_STATE_PAUSED);
  count.Bind(4, key);
  count.Bind(5, value);
  count.Bind(6, owner);
  if (count.Step() != SQLITE_ROW) return count.status("count labelled jobs");
  return std::make_pair(count.Int(0), count.Int(1));
}

absl::StatusOr<std::map<JobState, int64_t>> SqliteJobStore::CountJobsByState() {
  std::lock_guard<std::mutex> lock(reader_->mu);
  sqlite3* db = reader_->db;
  Statement count(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  std::map<JobState, int64_t> counts;
  int rc;
  while ((rc = count.Step()) == SQLITE_ROW) {
    counts[static_cast<JobState>(count.Int(0))] = count.Int(1);
  }
  if (rc != SQLITE_DONE) return count.status("count jobs");
  return counts;
}

}  // namespace polytrain
