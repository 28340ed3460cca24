// jobs.end_ms (schema 9): when each job in a final state ended, kept by UpdateJob, filled for
// older files by their migration, read by retention (JobsEndedBefore).
#include <sqlite3.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/job_states.h"
#include "google/protobuf/util/time_util.h"
#include "server/sqlite_job_store.h"
#include "server/sqlite_statement.h"

namespace polytrain {

using polytrain::v1::Job;
using polytrain::v1::JobState;
using sqlite::Statement;

std::optional<int64_t> SqliteJobStore::EndMillis(const Job& job) {
  if (!IsFinalState(job.state()) || !job.has_end_time()) return std::nullopt;
  return google::protobuf::util::TimeUtil::TimestampToMilliseconds(job.end_time());
}

absl::Status SqliteJobStore::FillJobEndTimes(sqlite3* db) {
  // Read whole first, then written: rows are not updated under a statement still reading them.
  std::vector<std::pair<int64_t, int64_t>> ended;  // (seq, end_ms)
  {
    Statement select(db, "SELECT seq, job FROM jobs WHERE state IN (?, ?, ?, ?)");
    if (!select.ok()) return select.status("jobs ended");
    int i = 0;
    for (JobState state : {polytrain::v1::JOB_STATE_SUCCEEDED, polytrain::v1::JOB_STATE_FAILED,
                           polytrain::v1::JOB_STATE_CANCELLED, polytrain::v1::JOB_STATE_STOPPED}) {
      select.Bind(++i, state);  // IsFinalState's
    }
    int rc;
    while ((rc = select.Step()) == SQLITE_ROW) {
      Job job;
      if (!job.ParseFromString(select.Blob(1))) {
        return absl::DataLossError("sqlite: a stored job does not parse");
      }
      if (std::optional<int64_t> end_ms = EndMillis(job); end_ms.has_value()) {
        ended.emplace_back(select.Int(0), *end_ms);
      }
    }
    if (rc != SQLITE_DONE) return select.status("jobs ended");
  }
  Statement update(db, "UPDATE jobs SET end_ms = ? WHERE seq = ?");
  if (!update.ok()) return update.status("job end time");
  for (const auto& [seq, end_ms] : ended) {
    update.Reset();
    update.Bind(1, end_ms);
    update.Bind(2, seq);
    if (update.Step() != SQLITE_DONE) return update.status("job end time");
  }
  return absl::OkStatus();
}

const char* SqliteJobStore::JobsEndedBeforeSql() {
  return "SELECT id FROM jobs WHERE end_ms < ? ORDER BY end_ms";
}

absl::StatusOr<std::vector<std::string>> SqliteJobStore::JobsEndedBefore(int64_t cutoff_ms) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement select(reader_->db, JobsEndedBeforeSql());
  if (!select.ok()) return select.status("jobs ended before");
  select.Bind(1, cutoff_ms);
  std::vector<std::string> ids;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) ids.push_back(select.Blob(0));
  if (rc != SQLITE_DONE) return select.status("jobs ended before");
  return ids;
}

}  // namespace polytrain
