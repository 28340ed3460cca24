#include "cli/logging_flags.h"

namespace polytrain {

void AddLoggingFlags(CLI::App& app, LoggingOptions* options) {
  app.add_option("--log_level", options->level, "least severe level logged")
      ->transform(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"},
                                CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--log_format", options->format,
                 "text, or json (one object per line: time, level, logger, message)")
      ->transform(CLI::IsMember({"text", "json"}, CLI::ignore_case))
      ->capture_default_str();
}

}  // namespace polytrain
