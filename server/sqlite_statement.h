// The SQLite building blocks SqliteJobStore's files share: a prepared statement finalized on
// destruction, a transaction rolled back unless committed, and errors that carry SQLite's
// message. Internal to the job store.
#ifndef POLYTRAIN_SERVER_SQLITE_STATEMENT_H_
#define POLYTRAIN_SERVER_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace polytrain::sqlite {

// `message` as the status of `db`'s last error: a full disk is the operator's to fix, not a
// bug, so RESOURCE_EXHAUSTED and said as such; anything else INTERNAL.
inline absl::Status SqliteStatus(sqlite3* db, const std::string& message) {
  if (sqlite3_errcode(db) == SQLITE_FULL) {
    return absl::ResourceExhaustedError(
        absl::StrCat(message, " (the coordinator's --db disk is full)"));
  }
  return absl::InternalError(message);
}

inline absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return SqliteStatus(db, absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db)));
}

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  absl::Status status(absl::string_view what) const { return SqliteError(db_, what); }

  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  // Ready to run again with new bindings.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, col));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

inline absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status = SqliteStatus(db, absl::StrCat("sqlite: ", error ? error : "?"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

// Commits on Commit(), rolls back otherwise. Check begun() before the first statement: a
// transaction that did not begin (the database locked past its busy timeout) would otherwise
// run each statement on its own and commit half of the work.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db), begun_(Exec(db, "BEGIN IMMEDIATE")) {}
  ~Transaction() {
    if (begun_.ok() && !committed_) (void)Exec(db_, "ROLLBACK");
  }
  const absl::Status& begun() const { return begun_; }
  absl::Status Commit() {
    if (!begun_.ok()) return begun_;
    committed_ = true;
    return Exec(db_, "COMMIT");
  }

 private:
  sqlite3* db_;
  absl::Status begun_;
  bool committed_ = false;
};

}  // namespace polytrain::sqlite

#endif  // POLYTRAIN_SERVER_SQLITE_STATEMENT_H_
