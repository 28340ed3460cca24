// Parsing a tool's command line with CLI11, the same way in every main: --help prints and exits
// 0, a parse error prints CLI11's message and exits kExitUsage.
#ifndef POLYTRAIN_CLI_COMMAND_LINE_H_
#define POLYTRAIN_CLI_COMMAND_LINE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace polytrain {

// The line after every usage error (exit kExitUsage), as CLI11's own errors end.
inline constexpr char kRunWithHelp[] = "Run with --help for more information.\n";

// Empty when the tool should go on; else the code to exit with now: 0 after --help, kExitNotFound
// for a file argument that does not exist (ExistingPath), kExitUsage for every other mistake. A
// word that is not one of the commands is named, with the commands there are.
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// The check of a file (or, with `directory`, a directory) argument: one that does not exist is
// "PATH: no such file" and exits kExitNotFound, as a missing file does everywhere else.
CLI::Validator ExistingPath(bool directory = false);

// The check of a whole-number option in [min, max]: digits only (no sign, exponent or fraction),
// so that CLI11 never clamps 1e30 or 2^64 to the type's largest value, nor wraps -1.
CLI::Validator WholeNumber(uint64_t min = 0, uint64_t max = std::numeric_limits<uint64_t>::max());

// The check of an integer option in [min, max]: an optional '-' and digits only; "must be a
// whole number in [MIN, MAX], got TEXT" (CLI::Range says "not in range" of "abc" too).
CLI::Validator IntegerRange(int64_t min, int64_t max);

// The check of a real-number option in [min, max]: a finite decimal number (CLI::Range lets NaN
// through, and names no finite bound for "abc"); "must be a number from MIN to MAX, got TEXT".
CLI::Validator FiniteRange(double min, double max);

// What an address option takes.
enum class AddressOption {
  kGrpc,     // HOST:PORT or unix:PATH (--listen, --coordinator: gRPC serves and dials both)
  kMetrics,  // HOST:PORT, or empty for off (--metrics_listen: the HTTP server binds TCP only)
};

// The check of an address option as the start-up makes it (CheckHostPort, SplitHostPort), at
// parse time: a usage error (exit 2) like any other value out of range. `help` follows "a port
// in [min_port, 65535]".
CLI::Validator HostPortOption(AddressOption kind, int min_port, const std::string& help);

// The check of an option whose empty value would mean "not given" and so be dropped silently:
// "--name ''" is refused rather than ignored.
CLI::Validator NotEmpty();

// Prints "<tool>: <message>" on stderr and returns ExitCodeFor(status): the one-line error every
// tool ends with.
int ExitWithError(const std::string& tool, const absl::Status& status);

// As ExitWithError, but returns `code` (a flag's mistake is a usage error, exit 2, whatever the
// status's code), and a usage error adds kRunWithHelp.
int ExitWithCode(const std::string& tool, int code, const absl::Status& status);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_COMMAND_LINE_H_
