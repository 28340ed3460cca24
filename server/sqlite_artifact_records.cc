// SqliteJobStore's records of users' artifacts (the artifacts table) and which jobs name them
// (job_artifacts, filled in by CreateJobs).
#include <sqlite3.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/timestamps.h"
#include "server/sqlite_job_store.h"
#include "server/sqlite_statement.h"

namespace polytrain {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

absl::StatusOr<polytrain::v1::Artifact> ParseArtifact(const std::string& blob) {
  polytrain::v1::Artifact record;
  if (!record.ParseFromString(blob)) {
    return absl::DataLossError("sqlite: a stored artifact record does not parse");
  }
  return record;
}

}  // namespace

absl::StatusOr<polytrain::v1::Artifact> SqliteJobStore::PutArtifact(
    polytrain::v1::Artifact record) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Transaction tx(db);
  POLYTRAIN_RETURN_IF_ERROR(tx.begun());
  Statement find(db, "SELECT record FROM artifacts WHERE id = ? AND owner = ?");
  find.Bind(1, record.id());
  find.Bind(2, record.owner());
  const int rc = find.Step();
  if (rc == SQLITE_ROW) return ParseArtifact(find.Blob(0));
  if (rc != SQLITE_DONE) return find.status("find artifact");
  record.clear_active_jobs();
  *record.mutable_create_time() = NowTimestamp();
  Statement insert(db, "INSERT INTO artifacts (id, owner, record, size_bytes) VALUES (?, ?, ?, ?)");
  insert.Bind(1, record.id());
  insert.Bind(2, record.owner());
  insert.BindBlob(3, record.SerializeAsString());
  insert.Bind(4, record.size_bytes());
  if (insert.Step() != SQLITE_DONE) return insert.status("insert artifact");
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  return record;
}

absl::StatusOr<polytrain::v1::Artifact> SqliteJobStore::FindArtifact(
    const std::string& id, const std::optional<std::string>& owner) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement find(reader_->db, owner.has_value()
                                  ? "SELECT record FROM artifacts WHERE id = ? AND owner = ?"
                                  : "SELECT record FROM artifacts WHERE id = ? ORDER BY seq");
  find.Bind(1, id);
  if (owner.has_value()) find.Bind(2, *owner);
  const int rc = find.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("no artifact ", id));
  if (rc != SQLITE_ROW) return find.status("find artifact");
  return ParseArtifact(find.Blob(0));
}

absl::StatusOr<ArtifactPage> SqliteJobStore::ListArtifacts(const std::optional<std::string>& owner,
                                                           int page_size,
                                                           const std::string& page_token) {
  int64_t before = INT64_MAX;
  if (!page_token.empty() && !ParsePageToken(page_token, &before)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous ListArtifacts");
  }
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement list(reader_->db,
                 owner.has_value()
                     ? "SELECT seq, record FROM artifacts WHERE seq < ? AND owner = ? "
                       "ORDER BY seq DESC LIMIT ?"
                     : "SELECT seq, record FROM artifacts WHERE seq < ? ORDER BY seq DESC LIMIT ?");
  int arg = 1;
  list.Bind(arg++, before);
  if (owner.has_value()) list.Bind(arg++, *owner);
  list.Bind(arg++, page_size + 1);
  ArtifactPage page;
  int64_t last_seq = 0;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    if (static_cast<int>(page.artifacts.size()) == page_size) {
      page.next_page_token = absl::StrCat(last_seq);
      break;
    }
    absl::StatusOr<polytrain::v1::Artifact> record = ParseArtifact(list.Blob(1));
    if (!record.ok()) return record.status();
    page.artifacts.push_back(*std::move(record));
    last_seq = list.Int(0);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return list.status("list artifacts");
  return page;
}

absl::StatusOr<std::vector<polytrain::v1::Artifact>> SqliteJobStore::DeleteArtifact(
    const std::string& id, const std::optional<std::string>& owner) {
  std::lock_guard<std::mutex> lock(writer_.mu);
  sqlite3* db = writer_.db;
  Transaction tx(db);
  POLYTRAIN_RETURN_IF_ERROR(tx.begun());
  Statement select(db, owner.has_value()
                           ? "SELECT record FROM artifacts WHERE id = ? AND owner = ?"
                           : "SELECT record FROM artifacts WHERE id = ? ORDER BY seq");
  select.Bind(1, id);
  if (owner.has_value()) select.Bind(2, *owner);
  std::vector<polytrain::v1::Artifact> deleted;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    absl::StatusOr<polytrain::v1::Artifact> record = ParseArtifact(select.Blob(0));
    if (!record.ok()) return record.status();
    deleted.push_back(*std::move(record));
  }
  if (rc != SQLITE_DONE) return select.status("find artifact");
  Statement erase(db, owner.has_value() ? "DELETE FROM artifacts WHERE id = ? AND owner = ?"
                                        : "DELETE FROM artifacts WHERE id = ?");
  erase.Bind(1, id);
  if (owner.has_value()) erase.Bind(2, *owner);
  if (erase.Step() != SQLITE_DONE) return erase.status("delete artifact");
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  return deleted;
}

absl::StatusOr<ArtifactTotals> SqliteJobStore::TotalArtifacts(
    const std::optional<std::string>& owner) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement sum(reader_->db,
                owner.has_value()
                    ? "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM artifacts WHERE owner = ?"
                    : "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM artifacts");
  if (owner.has_value()) sum.Bind(1, *owner);
  if (sum.Step() != SQLITE_ROW) return sum.status("total artifacts");
  return ArtifactTotals{sum.Int(0), sum.Int(1)};
}

absl::Status SqliteJobStore::FillArtifactSizes(sqlite3* db) {
  // Read whole first, then written: rows are not updated under a statement still reading them.
  std::vector<std::pair<int64_t, int64_t>> sizes;  // (seq, size_bytes)
  {
    Statement select(db, "SELECT seq, record FROM artifacts");
    if (!select.ok()) return select.status("artifact records");
    int rc;
    while ((rc = select.Step()) == SQLITE_ROW) {
      absl::StatusOr<polytrain::v1::Artifact> record = ParseArtifact(select.Blob(1));
      if (!record.ok()) return record.status();
      sizes.emplace_back(select.Int(0), record->size_bytes());
    }
    if (rc != SQLITE_DONE) return select.status("artifact records");
  }
  Statement update(db, "UPDATE artifacts SET size_bytes = ? WHERE seq = ?");
  if (!update.ok()) return update.status("artifact size");
  for (const auto& [seq, size_bytes] : sizes) {
    update.Reset();
    update.Bind(1, size_bytes);
    update.Bind(2, seq);
    if (update.Step() != SQLITE_DONE) return update.status("artifact size");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteJobStore::CountArtifactRecords(const std::string& id) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement count(reader_->db, "SELECT COUNT(*) FROM artifacts WHERE id = ?");
  count.Bind(1, id);
  if (count.Step() != SQLITE_ROW) return count.status("count artifact records");
  return count.Int(0);
}

absl::StatusOr<int64_t> SqliteJobStore::CountActiveJobsNaming(
    const std::string& id, const std::optional<std::string>& owner) {
  std::lock_guard<std::mutex> lock(reader_->mu);
  Statement count(reader_->db,
                  owner.has_value()
                      ? "SELECT COUNT(*) FROM job_artifacts a JOIN jobs j ON j.id = a.job_id "
                        "WHERE a.artifact_id = ? AND j.state IN (?, ?) AND j.owner = ?"
                      : "SELECT COUNT(*) FROM job_artifacts a JOIN jobs j ON j.id = a.job_id "
                        "WHERE a.artifact_id = ? AND j.state IN (?, ?)");
  count.Bind(1, id);
  count.Bind(2, polytrain::v1::JOB_STATE_QUEUED);
  count.Bind(3, polytrain::v1::JOB_STATE_RUNNING);
  if (owner.has_value()) count.Bind(4, *owner);
  if (count.Step() != SQLITE_ROW) return count.status("count jobs naming artifact");
  return count.Int(0);
}

}  // namespace polytrain
