#include "server/sqlite_schema.h"

namespace polytrain {
namespace {

// Schema migrations, applied in order; the database's user_version counts those applied.
constexpr const char* kMigrations[] = {
    // 1: jobs, their labels (for filtering) and metric points.
    R"sql(
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        state INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        client_request_id TEXT UNIQUE,
        job BLOB NOT NULL
      );
      CREATE INDEX jobs_by_state ON jobs (state, priority, seq);
      CREATE TABLE job_labels (
        job_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (job_id, key)
      ) WITHOUT ROWID;
      CREATE TABLE metric_points (
        job_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        point BLOB NOT NULL,
        PRIMARY KEY (job_id, step, kind)
      ) WITHOUT ROWID;
    )sql",
    // 2: who submitted each job (Job.owner), for listing a client's own jobs. Request ids
    // become "<owner>\x1f<id>" for owned jobs, so two users' retries never meet.
    R"sql(
      ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
      CREATE INDEX jobs_by_owner ON jobs (owner, seq);
    )sql",
    // 3: users' artifacts, a record per uploader (the record is an Artifact message), and which
    // artifacts each job names, so that one named by an active job is never deleted.
    R"sql(
      CREATE TABLE artifacts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        owner TEXT NOT NULL,
        record BLOB NOT NULL,
        UNIQUE (id, owner)
      );
      CREATE INDEX artifacts_by_owner ON artifacts (owner, seq);
      CREATE TABLE job_artifacts (
        artifact_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        PRIMARY KEY (artifact_id, job_id)
      ) WITHOUT ROWID;
    )sql",
    // 4: sweeps (a Sweep message with its request and state), so that a search goes on after a
    // restart.
    R"sql(
      CREATE TABLE sweeps (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        state INTEGER NOT NULL,
        record BLOB NOT NULL
      );
      CREATE INDEX sweeps_by_state ON sweeps (state, seq);
    )sql",
    // 5: jobs by label value, so that a sweep's jobs are found without reading every job (a
    // restart re-reads each cancelled sweep's).
    R"sql(
      CREATE INDEX job_labels_by_value ON job_labels (key, value);
    )sql",
    // 6: an owner's jobs by state, so that a submit counts the owner's unended jobs (a client's
    // limit, --max_unended_jobs_per_client) without reading the others'.
    R"sql(
      CREATE INDEX jobs_by_owner_state ON jobs (owner, state);
    )sql",
    // 7: a state's (and an owner's state's) jobs newest first, so that a filtered ListJobs page
    // walks the index from its token and stops at its limit, instead of sorting every job in
    // the state (150,000 succeeded jobs: 0.75 s under the store's one reader lock).
    R"sql(
      CREATE INDEX jobs_by_state_seq ON jobs (state, seq);
      DROP INDEX jobs_by_owner_state;
      CREATE INDEX jobs_by_owner_state ON jobs (owner, state, seq);
    )sql",
    // 8: an owner's sweeps newest first (ListSweeps for a client token).
    R"sql(
      CREATE INDEX sweeps_by_owner ON sweeps (owner, seq);
    )sql",
    // 9: when each job in a final state ended (Job.end_time in milliseconds since the epoch;
    // NULL before), so that retention finds the jobs past it through an index instead of
    // reading every ended job's record. The store fills it for jobs already ended
    // (kJobEndTimeSchemaVersion).
    R"sql(
      ALTER TABLE jobs ADD COLUMN end_ms INTEGER;
      CREATE INDEX jobs_by_end ON jobs (end_ms) WHERE end_ms IS NOT NULL;
    )sql",
    // 10: how many of each sweep's jobs were deleted one by one (DeleteJob, retention), so that
    // its ranking and rungs, computed from the jobs left, say they leave some out.
    R"sql(
      ALTER TABLE sweeps ADD COLUMN deleted_jobs INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 11: a sweep whose deletion began (DeleteSweep deletes its jobs one by one): a coordinator
    // stopped meanwhile finishes it when it starts again, so no sweep stays half there. And the
    // jobs a running search will queue later (its re-runs), which count against its owner's
    // limit of unended jobs until they are queued.
    R"sql(
      ALTER TABLE sweeps ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sweeps ADD COLUMN pending_jobs INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 12: each artifact record's size (Artifact.size_bytes), so that what a client's records hold
    // (its storage quota, ListArtifacts' totals) is one SUM instead of a parse of every record.
    // The store fills it for the records already there (kArtifactSizeSchemaVersion).
    R"sql(
      ALTER TABLE artifacts ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;
    )sql",
};

}  // namespace

absl::Span<const char* const> SchemaMigrations() { return kMigrations; }

}  // namespace polytrain
