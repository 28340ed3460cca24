// The job store's SQLite schema: its migrations, applied in order (the database's user_version
// counts those applied). A new version appends one; none is ever edited.
#ifndef POLYTRAIN_SERVER_SQLITE_SCHEMA_H_
#define POLYTRAIN_SERVER_SQLITE_SCHEMA_H_

#include "absl/types/span.h"

namespace polytrain {

// Migration v + 1 is SchemaMigrations()[v], SQL of one or more statements.
absl::Span<const char* const> SchemaMigrations();

// The version that adds jobs.end_ms: its migration also fills the column from each ended job's
// record, which SQL cannot read (SqliteJobStore does it in the same transaction).
inline constexpr int kJobEndTimeSchemaVersion = 9;
// The version that adds artifacts.size_bytes, filled the same way from each artifact's record.
inline constexpr int kArtifactSizeSchemaVersion = 12;

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SQLITE_SCHEMA_H_
