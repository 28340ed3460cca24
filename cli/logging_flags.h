// The services' logging flags: --log_level and --log_format (common/logging.h).
#ifndef POLYTRAIN_CLI_LOGGING_FLAGS_H_
#define POLYTRAIN_CLI_LOGGING_FLAGS_H_

#include "CLI/CLI.hpp"
#include "common/logging.h"

namespace polytrain {

void AddLoggingFlags(CLI::App& app, LoggingOptions* options);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_LOGGING_FLAGS_H_
