// Parsing a tool's command line with CLI11, the same way in every main: --help prints and exits
// 0, a parse error prints CLI11's message and exits kExitUsage.
#ifndef POLYTRAIN_CLI_COMMAND_LINE_H_
#define POLYTRAIN_CLI_COMMAND_LINE_H_

#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace polytrain {

// Empty when the tool should go on; else the code to exit with now.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// Prints "<tool>: <message>" on stderr and returns ExitCodeFor(status): the one-line error every
// tool ends with.
int ExitWithError(const std::string& tool, const absl::Status& status);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_COMMAND_LINE_H_
