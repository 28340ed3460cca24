// The services' one logger: spdlog's default logger, writing to stderr either as text
// ("2026-12-01 10:00:00.123 polytrain-coordinator warn: ...") or as one JSON object per line
// ({"time":"2026-12-01T10:00:00.123456Z","level":"warn","logger":"polytrain-coordinator",
// "message":"..."}) for log collectors. Code logs with spdlog::info/warn/error; a tool's own
// user-facing output (results, one-line errors) is not logging and goes to stdout/stderr.
#ifndef POLYTRAIN_COMMON_LOGGING_H_
#define POLYTRAIN_COMMON_LOGGING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polytrain {

struct LoggingOptions {
  std::string level = "info";   // trace, debug, info, warn, error, critical or off
  std::string format = "text";  // text or json
};

// Makes the default logger, named after the program. INVALID_ARGUMENT naming --log_level or
// --log_format for values outside the lists above.
absl::Status InitLogging(absl::string_view program, const LoggingOptions& options);

// Whether InitLogging set JSON lines: a service's fatal error is then one of them too, so that a
// log collector sees why the process exited.
bool LogsAsJson();

// One log record as the JSON line --log_format json writes (newline included), timed now.
std::string JsonLogLine(absl::string_view level, absl::string_view logger,
                        absl::string_view message);

// `text` as one line of a text log: newlines, carriage returns and the other control characters
// but tab written as \n, \r and \xNN (a message cannot start a line that looks like a record).
std::string OneLogLine(absl::string_view text);

// One line of text as a JSON string literal, quotes included.
std::string JsonString(absl::string_view text);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_LOGGING_H_
