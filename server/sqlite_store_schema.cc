// The store's schema as it opens: whose database it is, which version it claims, and the
// migrations from there to this build's.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/sqlite_job_store.h"
#include "server/sqlite_schema.h"
#include "server/sqlite_statement.h"

namespace polytrain {
namespace {

using sqlite::Exec;
using sqlite::Statement;
using sqlite::Transaction;

absl::Status NewerSchema(int64_t version) {
  return absl::FailedPreconditionError(
      absl::StrCat("the database has schema version ", version, ", newer than this build's ",
                   SqliteJobStore::CurrentSchemaVersion(), "; use a newer polytrain-coordinator"));
}

// A truncated or damaged copy (SQLITE_CORRUPT): `status`, with what to do; the file is left as
// it is. OK where the database is not damaged.
absl::Status SaidIfDamaged(sqlite3* db, const absl::Status& status) {
  if ((sqlite3_errcode(db) & 0xff) != SQLITE_CORRUPT) return absl::OkStatus();
  return absl::Status(status.code(),
                      absl::StrCat(status.message(),
                                   "; the file is left as it is: start from a backup (README "
                                   "\"Run the service\"), or try `sqlite3 DB .recover`"));
}

}  // namespace

// A database SQLite may not write (a read-only file, or a directory where its -wal and -shm
// files cannot be made) said as such, not as SQLite's "attempt to write a readonly database".
absl::Status SqliteJobStore::SaidIfReadOnly(sqlite3* db, const absl::Status& status) {
  if (status.ok() || (sqlite3_errcode(db) & 0xff) != SQLITE_READONLY) return status;
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot write it (", status.message(),
      "): the file and its directory must be writable (SQLite keeps -wal and -shm files beside "
      "it)"));
}

absl::Status SqliteJobStore::CheckIsOurs() {
  sqlite3* db = writer_.db;
  Statement version(db, "PRAGMA user_version");
  if (!version.ok() || version.Step() != SQLITE_ROW) {
    if (sqlite3_errcode(db) == SQLITE_NOTADB) {
      return absl::FailedPreconditionError(
          "not a SQLite database; give a new file or one a polytrain-coordinator made");
    }
    // A truncated or damaged copy: left as it is.
    if (absl::Status damaged = SaidIfDamaged(db, version.status("user_version")); !damaged.ok()) {
      return damaged;
    }
    return SaidIfReadOnly(db, version.status("user_version"));
  }
  // Checked here, before WAL mode is set (a write): a file this build would refuse stays as it was.
  const int64_t claimed = version.Int(0);
  if (claimed < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("schema version ", claimed,
                     " (PRAGMA user_version) is not one a polytrain-coordinator writes (0 to ",
                     CurrentSchemaVersion(), ")"));
  }
  if (claimed > CurrentSchemaVersion()) return NewerSchema(claimed);
  if (claimed != 0) return absl::OkStatus();  // ours
  // Version 0: a new, empty file, or one of another program's.
  Statement tables(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  if (!tables.ok()) {
    absl::Status damaged = SaidIfDamaged(db, tables.status("sqlite_master"));
    return damaged.ok() ? tables.status("sqlite_master") : damaged;
  }
  std::vector<std::string> names;
  while (tables.Step() == SQLITE_ROW && names.size() < 5) names.push_back(tables.Blob(0));
  if (!names.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("not a PolyTrain database (it has other tables: ", absl::StrJoin(names, ", "),
                     "); give a new file or one a polytrain-coordinator made"));
  }
  return absl::OkStatus();
}

absl::Status SqliteJobStore::Migrate() {
  sqlite3* db = writer_.db;
  int current = 0;
  {
    // Finalized before any migration runs: an open statement would keep DROP INDEX from running
    // ("database table is locked").
    Statement version(db, "PRAGMA user_version");
    if (!version.ok() || version.Step() != SQLITE_ROW) return version.status("user_version");
    current = static_cast<int>(version.Int(0));
  }
  if (current > CurrentSchemaVersion()) return NewerSchema(current);
  if (current < 0) return absl::FailedPreconditionError("negative schema version");
  for (int v = current; v < CurrentSchemaVersion(); ++v) {
    Transaction tx(db);
    POLYTRAIN_RETURN_IF_ERROR(tx.begun());
    if (absl::Status s = Exec(db, SchemaMigrations()[v]); !s.ok()) {
      // Rolled back: the file is as it was. A statement SQLite refuses outright ("duplicate
      // column name") means its tables are not those of the version it claims (a user_version
      // set by hand); a full disk or an I/O error is said as itself.
      const std::string mismatch =
          sqlite3_errcode(db) == SQLITE_ERROR
              ? absl::StrCat("its tables do not match the schema version it claims (", v,
                             ", PRAGMA user_version): ")
              : "";
      return absl::Status(s.code(),
                          absl::StrCat(mismatch, "migrating to ", v + 1, " failed: ", s.message()));
    }
    // Columns SQL cannot fill from the records (rolled back with the rest when one fails).
    absl::Status filled = v + 1 == kJobEndTimeSchemaVersion     ? FillJobEndTimes(db)
                          : v + 1 == kArtifactSizeSchemaVersion ? FillArtifactSizes(db)
                                                                : absl::OkStatus();
    if (!filled.ok()) {
      return absl::Status(filled.code(),
                          absl::StrCat("migrating to ", v + 1, " failed: ", filled.message()));
    }
    if (absl::Status s = Exec(db, absl::StrCat("PRAGMA user_version=", v + 1).c_str()); !s.ok()) {
      return s;
    }
    if (absl::Status s = tx.Commit(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace polytrain
