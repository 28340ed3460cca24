// The store's schema over time: a database of an older schema migrated as it opens (its rows
// read back), one of a schema this build does not write refused and left as it was.
#include "server/sqlite_schema.h"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/sqlite_job_store.h"

namespace polytrain {
namespace {

using polytrain::v1::Job;

class SqliteSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/schema_test_" + std::to_string(getpid()) + ".db";
    RemoveFiles();
    store_ = *SqliteJobStore::Open(path_);
  }
  void TearDown() override {
    store_.reset();
    RemoveFiles();
  }
  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  // Runs `sql` on the database file, the store closed.
  void Exec(const std::string& sql) {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }
  std::string Bytes() const {
    std::stringstream bytes;
    bytes << std::ifstream(path_, std::ios::binary).rdbuf();
    return bytes.str();
  }
  std::string path_;
  std::unique_ptr<SqliteJobStore> store_;
};

// A version this build does not write (newer, or negative) is refused before anything is
// written: the file, in rollback-journal mode, is byte for byte as it was.
TEST_F(SqliteSchemaTest, ASchemaThisBuildDoesNotWriteIsRefusedAndLeftAsItWas) {
  for (const std::string version : {"99", "-1", "-2147483648"}) {
    Exec("PRAGMA journal_mode=DELETE; PRAGMA user_version=" + version);
    const std::string before = Bytes();
    absl::StatusOr<std::unique_ptr<SqliteJobStore>> reopened = SqliteJobStore::Open(path_);
    EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition) << version;
    const std::string said(reopened.status().message());
    if (version == "99") {
      EXPECT_EQ(said, "--db " + path_ +
                          ": the database has schema version 99, newer than this build's " +
                          std::to_string(SqliteJobStore::CurrentSchemaVersion()) +
                          "; use a newer polytrain-coordinator");
    } else {
      EXPECT_EQ(said, "--db " + path_ + ": schema version " + version +
                          " (PRAGMA user_version) is not one a polytrain-coordinator writes (0 "
                          "to " +
                          std::to_string(SqliteJobStore::CurrentSchemaVersion()) + ")");
    }
    EXPECT_EQ(Bytes(), before) << version;
    EXPECT_FALSE(std::filesystem::exists(path_ + "-wal")) << version;
  }
}

TEST_F(SqliteSchemaTest, AFileOfAnotherKindIsSaidNotToBeADatabase) {
  store_.reset();
  RemoveFiles();
  std::ofstream(path_) << "a text file, not a database\n";
  EXPECT_EQ(SqliteJobStore::Open(path_).status().message(),
            "--db " + path_ +
                ": not a SQLite database; give a new file or one a polytrain-coordinator made");
  EXPECT_EQ(Bytes(), "a text file, not a database\n");
}

// A truncated copy (a backup cut short) is said to be damaged, with what to do, and left as it
// was.
TEST_F(SqliteSchemaTest, ATruncatedDatabaseIsSaidToBeDamagedAndLeftAsItWas) {
  Exec(
      "PRAGMA journal_mode=DELETE; CREATE TABLE filler(x BLOB);"
      "INSERT INTO filler VALUES (zeroblob(200000));");
  const std::string whole = Bytes();
  ASSERT_GT(whole.size(), 16384u);
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << whole.substr(0, 8192);
  const std::string said(SqliteJobStore::Open(path_).status().message());
  EXPECT_NE(said.find("malformed"), std::string::npos) << said;
  EXPECT_NE(said.find("; the file is left as it is: start from a backup (README \"Run the "
                      "service\"), or try `sqlite3 DB .recover`"),
            std::string::npos)
      << said;
  EXPECT_EQ(Bytes(), whole.substr(0, 8192));
}

// A version set lower than the tables it has (by hand): SQLite's "duplicate column name" is
// said as a mismatch, and the migration rolled back.
TEST_F(SqliteSchemaTest, TablesThatDoNotMatchTheClaimedVersionAreSaidAsSuch) {
  Exec("PRAGMA user_version=9");
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> reopened = SqliteJobStore::Open(path_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().message().find(
                "--db " + path_ +
                ": its tables do not match the schema version it claims (9, PRAGMA "
                "user_version): migrating to 10 failed: "),
            0u)
      << reopened.status();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(version, 0), 9);
  sqlite3_finalize(version);
  sqlite3_close(db);
}

// A database of schema 8 (before jobs.end_ms) opened by this build: the jobs that had ended
// get their end time from their records, in the migration.
TEST_F(SqliteSchemaTest, TheMigrationFillsTheEndTimeOfJobsAlreadyEnded) {
  store_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  for (int v = 0; v + 1 < kJobEndTimeSchemaVersion; ++v) {
    ASSERT_EQ(sqlite3_exec(db, SchemaMigrations()[v], nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=8", nullptr, nullptr, nullptr), SQLITE_OK);
  auto insert = [db](const std::string& id, polytrain::v1::JobState state, int64_t end_ms) {
    Job job;
    job.set_id(id);
    job.set_state(state);
    if (end_ms > 0) {
      *job.mutable_end_time() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(end_ms);
    }
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "INSERT INTO jobs (id, state, priority, job) VALUES (?, ?, 0, ?)",
                           -1, &statement, nullptr),
        SQLITE_OK);
    const std::string blob = job.SerializeAsString();
    sqlite3_bind_text(statement, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(statement, 2, state);
    sqlite3_bind_blob(statement, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_DONE);
    sqlite3_finalize(statement);
  };
  insert("job-old", polytrain::v1::JOB_STATE_SUCCEEDED, 2000);
  insert("job-older", polytrain::v1::JOB_STATE_FAILED, 1000);
  insert("job-newer", polytrain::v1::JOB_STATE_CANCELLED, 9000);
  insert("job-running", polytrain::v1::JOB_STATE_RUNNING, 0);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> migrated = SqliteJobStore::Open(path_);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(*(*migrated)->JobsEndedBefore(5000),
            (std::vector<std::string>{"job-older", "job-old"}));
  EXPECT_EQ((*migrated)->JobsEndedBefore(10000)->size(), 3u);
}

// A database of schema 9 with a sweep opened by this build: the sweep reads back, its count of
// deleted jobs 0.
TEST_F(SqliteSchemaTest, SweepsStoredBeforeTheDeletedJobsColumnReadBack) {
  store_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  for (int v = 0; v < 9; ++v) {
    ASSERT_EQ(sqlite3_exec(db, SchemaMigrations()[v], nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=9", nullptr, nullptr, nullptr), SQLITE_OK);
  polytrain::v1::Sweep sweep;
  sweep.set_id("sweep-0123456789ab");
  const std::string blob = sweep.SerializeAsString();
  sqlite3_stmt* insert = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO sweeps (id, owner, state, record) VALUES "
                               "('sweep-0123456789ab', '', 2, ?)",
                               -1, &insert, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(insert, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> migrated = SqliteJobStore::Open(path_);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  absl::StatusOr<polytrain::v1::Sweep> read = (*migrated)->GetSweep("sweep-0123456789ab");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state(), polytrain::v1::Sweep::SWEEP_STATE_DONE);
  EXPECT_EQ(read->deleted_jobs(), 0);
}

// A database of schema 11 (before artifacts.size_bytes) opened by this build: each record's size
// is filled from the record, so that the totals (a client's quota) stay what they were.
TEST_F(SqliteSchemaTest, TheMigrationFillsTheSizeOfArtifactsAlreadyStored) {
  store_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  for (int v = 0; v + 1 < kArtifactSizeSchemaVersion; ++v) {
    ASSERT_EQ(sqlite3_exec(db, SchemaMigrations()[v], nullptr, nullptr, nullptr), SQLITE_OK);
  }
  const std::string before =
      "PRAGMA user_version=" + std::to_string(kArtifactSizeSchemaVersion - 1);
  ASSERT_EQ(sqlite3_exec(db, before.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  auto insert = [db](const std::string& id, const std::string& owner, int64_t size_bytes) {
    polytrain::v1::Artifact record;
    record.set_id(id);
    record.set_owner(owner);
    record.set_size_bytes(size_bytes);
    const std::string blob = record.SerializeAsString();
    sqlite3_stmt* statement = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO artifacts (id, owner, record) VALUES (?, ?, ?)",
                                 -1, &statement, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(statement, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(statement, 2, owner.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(statement, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_DONE);
    sqlite3_finalize(statement);
  };
  insert("sha256:aa", "alice", 100);
  insert("sha256:bb", "alice", 5'000'000'000);  // past 32 bits
  insert("sha256:aa", "bob", 100);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteJobStore>> migrated = SqliteJobStore::Open(path_);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  absl::StatusOr<ArtifactTotals> alice = (*migrated)->TotalArtifacts("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->records, 2);
  EXPECT_EQ(alice->bytes, 5'000'000'100);
  absl::StatusOr<ArtifactTotals> all = (*migrated)->TotalArtifacts(std::nullopt);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->records, 3);
  EXPECT_EQ(all->bytes, 5'000'000'200);
  EXPECT_EQ((*migrated)->TotalArtifacts("carol")->bytes, 0);  // none: 0, not NULL
}

}  // namespace
}  // namespace polytrain
