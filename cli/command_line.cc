#include "cli/command_line.h"

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/exit_codes.h"

namespace polytrain {

namespace {

constexpr char kNoSuchFile[] = ": no such file";
constexpr char kNoSuchDirectory[] = ": no such directory";

std::string ToolName(const char* argv0) {
  return std::filesystem::path(argv0 != nullptr ? argv0 : "").filename().string();
}

// The innermost command given, and, when it needs a command after it that was not given, the
// message naming the word that is not one (or saying that one is needed).
std::optional<std::string> MissingCommand(CLI::App& app) {
  CLI::App* given = &app;
  while (!given->get_subcommands().empty()) given = given->get_subcommands().front();
  if (given->get_require_subcommand_min() == 0) return std::nullopt;
  std::vector<std::string> names;
  for (CLI::App* command : given->get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(command->get_name());
  }
  const std::string there = absl::StrCat(" (one of: ", absl::StrJoin(names, ", "), ")");
  for (const std::string& word : app.remaining(/*recurse=*/true)) {
    if (!word.empty() && word[0] != '-') {
      return absl::StrCat("unknown command '", word, "'", there);
    }
  }
  return absl::StrCat("a command is needed", there);
}

// A command line CLI11 refused: "<tool>: <why>" as every other error of ours, exit 2.
int UsageError(const std::string& tool, const CLI::Error& e) {
  std::cerr << tool << ": " << e.what() << "\nRun with --help for more information.\n";
  return kExitUsage;
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  const std::string tool = ToolName(argc > 0 ? argv[0] : nullptr);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    const std::string message = e.what();
    if (absl::StrContains(message, kNoSuchFile) || absl::StrContains(message, kNoSuchDirectory)) {
      std::cerr << tool << ": " << message << "\n";
      return kExitNotFound;
    }
    return UsageError(tool, e);
  } catch (const CLI::RequiredError& e) {
    if (std::optional<std::string> missing = MissingCommand(app)) {
      std::cerr << tool << ": " << *missing << "\nRun with --help for more information.\n";
      return kExitUsage;
    }
    return UsageError(tool, e);
  } catch (const CLI::ParseError& e) {
    return UsageError(tool, e);
  }
  return std::nullopt;
}

CLI::Validator ExistingPath(bool directory) {
  return CLI::Validator(
      [directory](std::string& path) -> std::string {
        std::error_code error;
        const std::filesystem::file_status status = std::filesystem::status(path, error);
        if (error && error != std::errc::no_such_file_or_directory &&
            error != std::errc::not_a_directory) {
          return path + ": " + error.message();  // e.g. permission denied: not "no such file"
        }
        if (!std::filesystem::exists(status)) {
          return path + (directory ? kNoSuchDirectory : kNoSuchFile);
        }
        if (directory != std::filesystem::is_directory(status)) {
          return path + (directory ? ": not a directory" : ": is a directory, not a file");
        }
        return std::string();
      },
      directory ? "DIR" : "FILE");
}

CLI::Validator WholeNumber(uint64_t min, uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        uint64_t value = 0;
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
            !absl::SimpleAtoi(text, &value) || value < min || value > max) {
          return absl::StrCat("must be a whole number in [", min, ", ", max, "], got ", text);
        }
        return std::string();
      },
      absl::StrCat("UINT in [", min, ", ", max, "]"));
}

CLI::Validator NotEmpty() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "must not be empty (leave the option out instead)" : "";
      },
      "TEXT");
}

int ExitWithError(const std::string& tool, const absl::Status& status) {
  std::cerr << tool << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace polytrain
