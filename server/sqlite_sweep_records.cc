// SqliteJobStore's records of sweeps (the sweeps table): a Sweep message holding the request as
// submitted and the sweep's state; the rest of a Sweep is computed from its jobs when read.
#include <sqlite3.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/timestamps.h"
#include "server/sqlite_job_store.h"
#include "server/sqlite_statement.h"

namespace polytrain {
namespace {

using polytrain::v1::Sweep;
using sqlite::Statement;

// A sweep's record from a row of its blob, state and deleted_jobs columns.
absl::StatusOr<Sweep> ParseSweep(const std::string& blob, int64_t state, int64_t deleted_jobs) {
  Sweep record;
  if (!record.ParseFromString(blob)) {
    return absl::DataLossError("sqlite: a stored sweep record does not parse");
  }
  record.set_state(static_cast<Sweep::State>(state));
  record.set_deleted_jobs(static_cast<int32_t>(deleted_jobs));
  return record;
}

// Every sweep `list` (bound, selecting record, state, deleted_jobs) gives, in its order.
absl::StatusOr<std::vector<Sweep>> ReadSweeps(Statement& list, const char* what) {
  std::vector<Sweep> sweeps;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    absl::StatusOr<Sweep> sweep = ParseSweep(list.Blob(0), list.Int(1), list.Int(2));
    if (!sweep.ok()) return sweep.status();
    sweeps.push_back(*std::move(sweep));
  }
  if (rc != SQLITE_DONE) return list.status(what);
  return sweeps;
}

}  // namespace

absl::Status SqliteJobStore::InsertSweep(sqlite3* db, const Sweep& sweep, int64_t pending_jobs) {
  Sweep record;
  record.set_id(sweep.id());
  record.set_owner(sweep.owner());
  *record.mutable_request() = sweep.request();
  *record.mutable_create_time() = NowTimestamp();
  Statement insert(db,
                   "INSERT OR IGNORE INTO sweeps (id, owner, state, record, pending_jobs) "
                   "VALUES (?, ?, ?, ?, ?)");
  insert.Bind(1, record.id());
  insert.Bind(2, record.owner());
  insert.Bind(3, sweep.state());
  insert.BindBlob(4, record.SerializeAsString());
  insert.Bind(5, pending_jobs);
  if (insert.Step() != SQLITE_DONE) return insert.status("insert sweep");
  return absl::OkStatus();
}

absl::StatusOr<Sweep> SqliteJobStore::GetSweep(const std::string& id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement get(reader_->db, "SELECT record, state, deleted_jobs FROM sweeps WHERE id = ?");
  get.Bind(1, id);
  const int rc = get.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("id: no sweep ", id));
  if (rc != SQLITE_ROW) return get.status("get sweep");
  return ParseSweep(get.Blob(0), get.Int(1), get.Int(2));
}

absl::Status SqliteJobStore::SetSweepState(const std::string& id, Sweep::State state) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  // Cancelled is final: a decision made before the cancel cannot mark the sweep done after it.
  Statement update(writer_.db, "UPDATE sweeps SET state = ? WHERE id = ? AND state != ?");
  update.Bind(1, state);
  update.Bind(2, id);
  update.Bind(3, Sweep::SWEEP_STATE_CANCELLED);
  if (update.Step() != SQLITE_DONE) return update.status("update sweep");
  if (sqlite3_changes(writer_.db) > 0) return absl::OkStatus();
  Statement exists(writer_.db, "SELECT 1 FROM sweeps WHERE id = ?");
  exists.Bind(1, id);
  const int rc = exists.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("id: no sweep ", id));
  if (rc != SQLITE_ROW) return exists.status("find sweep");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sweep>> SqliteJobStore::SweepsInState(Sweep::State state) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement list(reader_->db,
                 "SELECT record, state, deleted_jobs FROM sweeps WHERE state = ? ORDER BY seq");
  list.Bind(1, state);
  return ReadSweeps(list, "list sweeps");
}

absl::StatusOr<SweepPage> SqliteJobStore::ListSweeps(const SweepFilter& filter) {
  int64_t before = INT64_MAX;
  if (!filter.page_token.empty() && !ParsePageToken(filter.page_token, &before)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous ListSweeps");
  }
  std::string sql = "SELECT seq, record, state, deleted_jobs FROM sweeps WHERE seq < ?";
  if (!filter.states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < filter.states.size(); ++i) sql += i == 0 ? "?" : ", ?";
    sql += ")";
  }
  if (filter.owner.has_value()) sql += " AND owner = ?";
  sql += " ORDER BY seq DESC LIMIT ?";
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement list(reader_->db, sql.c_str());
  if (!list.ok()) return list.status("list sweeps");
  int arg = 1;
  list.Bind(arg++, before);
  for (Sweep::State state : filter.states) list.Bind(arg++, state);
  if (filter.owner.has_value()) list.Bind(arg++, *filter.owner);
  list.Bind(arg++, filter.page_size + 1);
  SweepPage page;
  int64_t last_seq = 0, bytes = 0;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    const std::string blob = list.Blob(1);
    bytes += static_cast<int64_t>(blob.size());
    const bool full = filter.max_bytes > 0 && !page.sweeps.empty() && bytes > filter.max_bytes;
    if (static_cast<int>(page.sweeps.size()) == filter.page_size || full) {
      page.next_page_token = absl::StrCat(last_seq);
      break;
    }
    absl::StatusOr<Sweep> sweep = ParseSweep(blob, list.Int(2), list.Int(3));
    if (!sweep.ok()) return sweep.status();
    page.sweeps.push_back(*std::move(sweep));
    last_seq = list.Int(0);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return list.status("list sweeps");
  return page;
}

absl::Status SqliteJobStore::ClearPendingJobs(sqlite3* db, const std::string& id) {
  Statement clear(db, "UPDATE sweeps SET pending_jobs = 0 WHERE id = ?");
  clear.Bind(1, id);
  if (clear.Step() != SQLITE_DONE) return clear.status("clear a sweep's pending jobs");
  return absl::OkStatus();
}

absl::Status SqliteJobStore::MarkSweepDeleting(const std::string& id) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  Statement mark(writer_.db, "UPDATE sweeps SET deleting = 1 WHERE id = ?");
  mark.Bind(1, id);
  if (mark.Step() != SQLITE_DONE) return mark.status("mark sweep deleting");
  if (sqlite3_changes(writer_.db) == 0) {
    return absl::NotFoundError(absl::StrCat("id: no sweep ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sweep>> SqliteJobStore::SweepsBeingDeleted() {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement list(reader_->db,
                 "SELECT record, state, deleted_jobs FROM sweeps WHERE deleting = 1 ORDER BY seq");
  return ReadSweeps(list, "list sweeps being deleted");
}

absl::StatusOr<bool> SqliteJobStore::SweepBeingDeleted(const std::string& id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement select(reader_->db, "SELECT deleting FROM sweeps WHERE id = ?");
  if (!select.ok()) return select.status("read sweep deleting");
  select.Bind(1, id);
  const int rc = select.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("id: no sweep ", id));
  if (rc != SQLITE_ROW) return select.status("read sweep deleting");
  return select.Int(0) != 0;
}

absl::Status SqliteJobStore::DeleteSweep(const std::string& id) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  Statement erase(writer_.db, "DELETE FROM sweeps WHERE id = ?");
  erase.Bind(1, id);
  if (erase.Step() != SQLITE_DONE) return erase.status("delete sweep");
  if (sqlite3_changes(writer_.db) == 0)
    return absl::NotFoundError(absl::StrCat("id: no sweep ", id));
  return absl::OkStatus();
}

}  // namespace polytrain
