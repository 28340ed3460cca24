// SqliteJobStore's metric points (the metric_points table, keyed by job, step and kind): stored
// as MetricPoint messages, replaced by a replayed point of the same key, read whole or in pages;
// and an ended job's deletion, which is mostly its points.
#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "server/sqlite_job_store.h"
#include "server/sqlite_statement.h"

namespace polytrain {

using polytrain::v1::MetricPoint;
using sqlite::Statement;
using sqlite::Transaction;

absl::Status SqliteJobStore::AddMetrics(const std::string& job_id,
                                        const std::vector<MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Transaction tx(db);
  POLYTRAIN_RETURN_IF_ERROR(tx.begun());
  Statement insert(db,
                   "INSERT OR REPLACE INTO metric_points (job_id, step, kind, point) "
                   "VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.status("add metrics");
  for (const MetricPoint& point : points) {
    insert.Reset();
    insert.Bind(1, job_id);
    insert.Bind(2, point.step());
    insert.Bind(3, point.kind());
    insert.BindBlob(4, point.SerializeAsString());
    if (insert.Step() != SQLITE_DONE) return insert.status("add metric point");
  }
  return tx.Commit();
}

absl::StatusOr<int64_t> SqliteJobStore::DeleteJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Transaction tx(db);
  POLYTRAIN_RETURN_IF_ERROR(tx.begun());
  // Its sweep's count of deleted jobs first, from its sweep label (which goes next).
  Statement count_in_sweep(db,
                           "UPDATE sweeps SET deleted_jobs = deleted_jobs + 1 WHERE id = (SELECT "
                           "value FROM job_labels WHERE job_id = ? AND key = ?)");
  if (!count_in_sweep.ok()) return count_in_sweep.status("delete job");
  count_in_sweep.Bind(1, id);
  count_in_sweep.Bind(2, std::string(kSweepLabel));
  if (count_in_sweep.Step() != SQLITE_DONE) return count_in_sweep.status("delete job");
  // The job's row last: its count tells whether there was such a job.
  constexpr const char* kDeletes[] = {
      "DELETE FROM metric_points WHERE job_id = ?", "DELETE FROM job_labels WHERE job_id = ?",
      "DELETE FROM job_artifacts WHERE job_id = ?", "DELETE FROM jobs WHERE id = ?"};
  int64_t changed[std::size(kDeletes)] = {};
  for (size_t i = 0; i < std::size(kDeletes); ++i) {
    Statement erase(db, kDeletes[i]);
    if (!erase.ok()) return erase.status("delete job");
    erase.Bind(1, id);
    if (erase.Step() != SQLITE_DONE) return erase.status("delete job");
    changed[i] = sqlite3_changes(db);
  }
  if (changed[std::size(kDeletes) - 1] == 0) {
    return absl::NotFoundError(absl::StrCat("id: no job ", id));
  }
  const int64_t points = changed[0];
  POLYTRAIN_RETURN_IF_ERROR(tx.Commit());
  return points;
}

absl::Status SqliteJobStore::DeleteMetricsAfter(const std::string& job_id, int64_t step) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Statement erase(db, "DELETE FROM metric_points WHERE job_id = ? AND step > ?");
  if (!erase.ok()) return erase.status("delete metrics");
  erase.Bind(1, job_id);
  erase.Bind(2, step);
  if (erase.Step() != SQLITE_DONE) return erase.status("delete metrics");
  return absl::OkStatus();
}

namespace {

// The points a bound select returns, in its order.
absl::StatusOr<std::vector<MetricPoint>> ReadPoints(Statement& select) {
  std::vector<MetricPoint> points;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    MetricPoint point;
    if (!point.ParseFromString(select.Blob(0))) {
      return absl::DataLossError("sqlite: a stored metric point does not parse");
    }
    points.push_back(std::move(point));
  }
  if (rc != SQLITE_DONE) return select.status("get metrics");
  return points;
}

}  // namespace

absl::StatusOr<std::vector<MetricPoint>> SqliteJobStore::GetMetrics(const std::string& job_id) {
  // Every point: through the largest key, without a limit (SQLite reads LIMIT -1 as none).
  return GetMetricsBetween(
      job_id, std::nullopt,
      MetricKey{std::numeric_limits<int64_t>::max(), std::numeric_limits<int32_t>::max()}, -1);
}

absl::StatusOr<std::vector<MetricPoint>> SqliteJobStore::GetMetricsOfKind(const std::string& job_id,
                                                                          MetricPoint::Kind kind) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement select(reader_->db,
                   "SELECT point FROM metric_points WHERE job_id = ? AND kind = ? ORDER BY step");
  if (!select.ok()) return select.status("get metrics");
  select.Bind(1, job_id);
  select.Bind(2, int64_t{kind});
  return ReadPoints(select);
}

absl::StatusOr<std::vector<MetricPoint>> SqliteJobStore::GetMetricsSpread(const std::string& job_id,
                                                                          int64_t count) {
  if (count < 2) return absl::InvalidArgumentError("GetMetricsSpread: count must be at least 2");
  std::lock_guard<std::mutex> lock(reader_->mu);
  // One statement, so the count and the rows are of one snapshot while points are added: the
  // count is an uncorrelated subquery, run once.
  Statement select(reader_->db,
                   "SELECT (SELECT COUNT(*) FROM metric_points WHERE job_id = ?1), point "
                   "FROM metric_points WHERE job_id = ?1 ORDER BY step, kind");
  if (!select.ok()) return select.status("get metrics");
  select.Bind(1, job_id);
  std::vector<MetricPoint> points;
  int64_t n = 0, next = 0, k = 0;
  int rc;
  for (int64_t i = 0; (rc = select.Step()) == SQLITE_ROW; ++i) {
    if (i == 0) {
      n = select.Int(0);
      points.reserve(static_cast<size_t>(std::min(n, count)));
    }
    if (n > count && i != next) continue;  // read by SQLite, never copied out or parsed
    MetricPoint point;
    if (!point.ParseFromString(select.Blob(1))) {
      return absl::DataLossError("sqlite: a stored metric point does not parse");
    }
    points.push_back(std::move(point));
    ++k;
    next = k * (n - 1) / (count - 1);  // n > count: strictly increasing in k
  }
  if (rc != SQLITE_DONE) return select.status("get metrics");
  return points;
}

absl::StatusOr<std::optional<MetricKey>> SqliteJobStore::NewestMetricKey(
    const std::string& job_id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement select(reader_->db,
                   "SELECT step, kind FROM metric_points WHERE job_id = ? "
                   "ORDER BY step DESC, kind DESC LIMIT 1");
  if (!select.ok()) return select.status("newest metric point");
  select.Bind(1, job_id);
  const int rc = select.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return select.status("newest metric point");
  return MetricKey{select.Int(0), static_cast<int32_t>(select.Int(1))};
}

absl::StatusOr<int64_t> SqliteJobStore::MetricBytes(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement select(reader_->db,
                   "SELECT COALESCE(SUM(length(point)), 0) FROM metric_points WHERE job_id = ?");
  if (!select.ok()) return select.status("metric bytes");
  select.Bind(1, job_id);
  if (select.Step() != SQLITE_ROW) return select.status("metric bytes");
  return select.Int(0);
}

absl::StatusOr<std::vector<MetricPoint>> SqliteJobStore::GetMetricsBetween(
    const std::string& job_id, const std::optional<MetricKey>& after, const MetricKey& through,
    int limit) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  // Row values compare (step, kind) as the primary key orders them, so the index serves both
  // bounds.
  Statement select(reader_->db,
                   "SELECT point FROM metric_points WHERE job_id = ? AND (step, kind) > (?, ?) "
                   "AND (step, kind) <= (?, ?) ORDER BY step, kind LIMIT ?");
  if (!select.ok()) return select.status("get metrics");
  select.Bind(1, job_id);
  // Before every key: steps are >= 0 and kinds >= 0, and nothing is below (-1, -1).
  select.Bind(2, after.has_value() ? after->step : int64_t{-1});
  select.Bind(3, int64_t{after.has_value() ? after->kind : -1});
  select.Bind(4, through.step);
  select.Bind(5, int64_t{through.kind});
  select.Bind(6, int64_t{limit});
  return ReadPoints(select);
}

}  // namespace polytrain
