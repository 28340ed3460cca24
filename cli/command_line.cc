#include "cli/command_line.h"

#include <iostream>

#include "cli/exit_codes.h"

namespace polytrain {

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kExitUsage;
  }
  return std::nullopt;
}

int ExitWithError(const std::string& tool, const absl::Status& status) {
  std::cerr << tool << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace polytrain
