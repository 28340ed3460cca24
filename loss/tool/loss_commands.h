// The loss family from the command line, as both tools offer it: `polyloss describe|curve` and
// `polyctl loss describe|curve` are these subcommands, with the same flags, outputs and spec
// reader (text format, JSON or YAML). No LibTorch: the curves are the scalar library's.
#ifndef POLYTRAIN_LOSS_TOOL_LOSS_COMMANDS_H_
#define POLYTRAIN_LOSS_TOOL_LOSS_COMMANDS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "loss/core/loss_config.h"
#include "nlohmann/json.hpp"

namespace polytrain::loss {

// Adds `describe` and `curve` to `parent`. The chosen one runs as the command line is parsed
// and leaves its exit code in *exit_code; its errors are one line "<tool>: <message>".
void AddLossCommands(CLI::App& parent, const std::string& tool, int* exit_code);

// A LossSpec file read (ReadProtoFile) and canonicalized; INVALID_ARGUMENT prefixed with the
// path.
absl::StatusOr<LossConfig> ReadLossFile(const std::string& path);

// A double as protobuf's JSON mapping writes it: non-finite values as strings.
nlohmann::ordered_json JsonNumber(double v);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_TOOL_LOSS_COMMANDS_H_
