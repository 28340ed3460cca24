#include "cli/command_line.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "cli/exit_codes.h"
#include "common/host_port.h"
#include "common/logging.h"

namespace polytrain {

namespace {

constexpr char kNoSuchFile[] = ": no such file";
constexpr char kNoSuchDirectory[] = ": no such directory";

std::string ToolName(const char* argv0) {
  return std::filesystem::path(argv0 != nullptr ? argv0 : "").filename().string();
}

// The innermost command given.
CLI::App* InnermostCommand(CLI::App& app) {
  CLI::App* given = &app;
  while (!given->get_subcommands().empty()) given = given->get_subcommands().front();
  return given;
}

// The first plain word (not an option) left over after `given`, looked for at its own level
// before the levels around it.
std::optional<std::string> FirstLeftoverWord(CLI::App& app, CLI::App* given) {
  for (const std::vector<std::string>& words :
       {given->remaining(/*recurse=*/false), app.remaining(/*recurse=*/true)}) {
    for (const std::string& word : words) {
      if (!word.empty() && word[0] != '-') return word;
    }
  }
  return std::nullopt;
}

// "unknown command 'W' of 'X' (one of: ...)" (without "of 'X'" at the tool's own level), or
// without a word "'X' needs a command (one of: ...)" ("a command is needed" at the tool's own
// level); nullopt when `given` has no commands.
std::optional<std::string> NotACommand(CLI::App& app, CLI::App* given,
                                       const std::optional<std::string>& word) {
  std::vector<std::string> names;
  for (CLI::App* command : given->get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(command->get_name());
  }
  if (names.empty()) return std::nullopt;
  const std::string there = absl::StrCat(" (one of: ", absl::StrJoin(names, ", "), ")");
  if (!word.has_value()) {
    return absl::StrCat(given == &app ? "a command" : absl::StrCat("'", given->get_name(), "'"),
                        given == &app ? " is needed" : " needs a command", there);
  }
  const std::string of = given == &app ? "" : absl::StrCat(" of '", given->get_name(), "'");
  return absl::StrCat("unknown command '", *word, "'", of, there);
}

// When the innermost command given needs a command after it that was not given: the message
// naming the word that is not one (or saying that one is needed).
std::optional<std::string> MissingCommand(CLI::App& app) {
  CLI::App* given = InnermostCommand(app);
  if (given->get_require_subcommand_min() == 0) return std::nullopt;
  return NotACommand(app, given, FirstLeftoverWord(app, given));
}

// Levenshtein distance, for suggesting the option a mistyped one was meant to be.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// For arguments CLI11 did not expect: the first unknown option, with the closest option of the
// commands given when one is within two edits ("--epoch" -> "--epochs"); "" when every extra
// is a plain word (CLI11's own message says those).
std::string UnknownOption(CLI::App& app) {
  std::vector<std::pair<std::string, const CLI::App*>> known;  // each option and its command
  for (CLI::App* command = &app; command != nullptr;
       command = command->get_subcommands().empty() ? nullptr
                                                    : command->get_subcommands().front()) {
    for (const CLI::Option* option : command->get_options()) {
      for (const std::string& name : option->get_lnames()) known.emplace_back("--" + name, command);
    }
  }
  for (const std::string& word : app.remaining(/*recurse=*/true)) {
    if (word.size() < 2 || word[0] != '-') continue;
    const std::string option = word.substr(0, word.find('='));
    std::string closest;
    size_t best = 3;
    for (const auto& [name, command] : known) {
      const size_t distance = EditDistance(option, name);
      if (distance == 0) {
        // Spelt right, but before its command ("polyctl --limit 5 list"): CLI11 reads options
        // where they are given.
        return absl::StrCat(option, " is an option of '", command->get_name(),
                            "': give it after that command");
      }
      if (distance < best) {
        best = distance;
        closest = name;
      }
    }
    return absl::StrCat("unknown option ", option,
                        closest.empty() ? "" : absl::StrCat(" (did you mean ", closest, "?)"));
  }
  return "";
}

// For arguments CLI11 did not expect after a command that has commands of its own ("polyctl
// artifacts rm ID"): the first plain word, named as the command it is not; "" otherwise.
std::string UnknownSubcommand(CLI::App& app) {
  CLI::App* given = InnermostCommand(app);
  if (given == &app) return "";  // the tool's own commands are required: MissingCommand says it
  const std::optional<std::string> word = FirstLeftoverWord(app, given);
  if (!word.has_value()) return "";
  return NotACommand(app, given, word).value_or("");
}

// A command line CLI11 refused: "<tool>: <why>" as every other error of ours, exit 2.
int UsageError(const std::string& tool, const CLI::Error& e) {
  std::cerr << tool << ": " << e.what() << "\n" << kRunWithHelp;
  return kExitUsage;
}

// The option `name` ("--x") of `app` or of any of its commands, the first found; null if none.
const CLI::Option* FindOptionAnywhere(const CLI::App& app, const std::string& name) {
  if (const CLI::Option* option = app.get_option_no_throw(name)) return option;
  for (const CLI::App* command : app.get_subcommands({})) {
    if (const CLI::Option* option = FindOptionAnywhere(*command, name)) return option;
  }
  return nullptr;
}

// CLI11 names an option that is also a positional by its long name ("--spec: x: no such file")
// even when it was given as FILE, and a positional alone by its own name ("file: x: ..."): the
// message names it as it was given ("FILE (--spec): x: ...", "FILE: x: ...").
std::string NamedAsGiven(CLI::App& app, int argc, char** argv, const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return message;
  const std::string name = message.substr(0, colon);
  const CLI::Option* option = InnermostCommand(app)->get_option_no_throw(name);
  if (option == nullptr || !option->get_positional()) return message;
  const bool has_long_name = absl::StartsWith(name, "-");
  const bool given_by_name = has_long_name && std::any_of(argv, argv + argc, [&](const char* arg) {
                               return arg == name || absl::StartsWith(arg, name + "=");
                             });
  if (given_by_name) return message;
  return absl::StrCat(absl::AsciiStrToUpper(option->get_name(true)),
                      has_long_name ? absl::StrCat(" (", name, ")") : "", message.substr(colon));
}

// CLI11 reads "--x=" (an empty value after '=') as "--x" alone: the next argument becomes its
// value ("--name= --dry-run" names the job "--dry-run" and submits it for real), and a flag
// given so is off. So "--x=" is split into "--x" and an explicit empty value, which the option's
// own check then judges ("--name: must not be empty"), and a flag given a value is refused.
// Everything after "--" is left alone. Empty when the arguments are fine; else the message.
std::string SplitEmptyValues(const CLI::App& app, int argc, char** argv,
                             std::vector<std::string>* args) {
  bool options_ended = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i == 0 || options_ended || arg.size() < 4 || !absl::StartsWith(arg, "--") ||
        arg.back() != '=' || arg.find('=') != arg.size() - 1) {
      options_ended = options_ended || (i > 0 && arg == "--");
      args->push_back(arg);
      continue;
    }
    const std::string name = arg.substr(0, arg.size() - 1);
    const CLI::Option* option = FindOptionAnywhere(app, name);
    if (option == nullptr) {  // CLI11 names the unknown option
      args->push_back(arg);
      continue;
    }
    if (option->get_expected_max() == 0) {
      return absl::StrCat(name, ": a flag takes no value; give ", name, " alone, or leave it out");
    }
    // One that takes several values, or is also a positional, would take the arguments after the
    // empty one as well: an empty value is refused outright.
    if (option->get_expected_max() > 1 || option->get_positional()) {
      return absl::StrCat(name, ": must not be empty (leave the option out instead)");
    }
    args->push_back(name);
    args->push_back("");
  }
  return "";
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int raw_argc, char** raw_argv) {
  const std::string tool = ToolName(raw_argc > 0 ? raw_argv[0] : nullptr);
  std::vector<std::string> args;
  if (const std::string refused = SplitEmptyValues(app, raw_argc, raw_argv, &args);
      !refused.empty()) {
    std::cerr << tool << ": " << refused << "\n" << kRunWithHelp;
    return kExitUsage;
  }
  std::vector<char*> split;
  for (std::string& arg : args) split.push_back(arg.data());
  const int argc = static_cast<int>(split.size());
  char** argv = split.data();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ValidationError& e) {
    const std::string message = NamedAsGiven(app, argc, argv, e.what());
    if (absl::StrContains(message, kNoSuchFile) || absl::StrContains(message, kNoSuchDirectory)) {
      std::cerr << tool << ": " << message << "\n";
      return kExitNotFound;
    }
    std::cerr << tool << ": " << message << "\n" << kRunWithHelp;
    return kExitUsage;
  } catch (const CLI::RequiredError& e) {
    if (std::optional<std::string> missing = MissingCommand(app)) {
      std::cerr << tool << ": " << *missing << "\n" << kRunWithHelp;
      return kExitUsage;
    }
    return UsageError(tool, e);
  } catch (const CLI::ExtrasError& e) {
    for (const std::string& unknown : {UnknownOption(app), UnknownSubcommand(app)}) {
      if (unknown.empty()) continue;
      std::cerr << tool << ": " << unknown << "\n" << kRunWithHelp;
      return kExitUsage;
    }
    return UsageError(tool, e);
  } catch (const CLI::ArgumentMismatch& e) {
    // CLI11 says "--spec: At Most 1 required but received 2" of an option given twice (it counts
    // values, which for a single-valued option are the times it was given).
    constexpr absl::string_view kAtMostOne = ": At Most 1 required but received ";
    const std::string message = e.what();
    const size_t at = absl::string_view(message).find(kAtMostOne);
    if (at == std::string::npos) return UsageError(tool, e);
    const std::string name = message.substr(0, at);
    const CLI::Option* option = InnermostCommand(app)->get_option_no_throw(name);
    const bool positional_too = option != nullptr && option->get_positional();
    std::cerr << tool << ": " << name << ": given " << message.substr(at + kAtMostOne.size())
              << " times; give it once"
              << (positional_too ? absl::StrCat(" (", absl::AsciiStrToUpper(option->get_name(true)),
                                                " and ", name, " FILE are the same option)")
                                 : "")
              << "\n"
              << kRunWithHelp;
    return kExitUsage;
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
          // A dangling link exists as a name: say where it points, or "no such file" misleads.
          if (std::filesystem::is_symlink(std::filesystem::symlink_status(path, error))) {
            const std::filesystem::path target = std::filesystem::read_symlink(path, error);
            if (!error) {
              return path + (directory ? kNoSuchDirectory : kNoSuchFile) + " (a link to " +
                     target.string() + ", which does not exist)";
            }
          }
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
  // int64's largest as the bound is no bound anyone types: help and errors say ">= min" (the
  // exact range only to a value past it).
  const std::string exact = absl::StrCat("in [", min, ", ", max, "]");
  const std::string range = max == static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                                ? absl::StrCat(">= ", min)
                                : exact;
  return CLI::Validator(
      [min, max, range, exact](std::string& text) -> std::string {
        uint64_t value = 0;
        const bool digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        const bool too_large = digits && (!absl::SimpleAtoi(text, &value) || value > max);
        if (!digits || too_large || value < min) {
          return absl::StrCat("must be a whole number ", too_large ? exact : range, ", got ", text);
        }
        return std::string();
      },
      absl::StrCat("UINT ", range));
}

CLI::Validator IntegerRange(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        const size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
        int64_t value = 0;
        if (text.size() == digits ||
            text.find_first_not_of("0123456789", digits) != std::string::npos ||
            !absl::SimpleAtoi(text, &value) || value < min || value > max) {
          return absl::StrCat("must be a whole number in [", min, ", ", max, "], got ", text);
        }
        return std::string();
      },
      absl::StrCat("INT in [", min, ", ", max, "]"));
}

CLI::Validator FiniteRange(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double value = 0;
        // Decimal only: the parsers take hex ("0x10" was a 16 s lease) and spaces too.
        if (text.find_first_not_of("0123456789.eE+-") == std::string::npos &&
            absl::SimpleAtod(text, &value) && std::isfinite(value) && value >= min &&
            value <= max) {
          return "";
        }
        return absl::StrCat("must be a number from ", min, " to ", max, ", got ", text);
      },
      absl::StrCat("NUMBER in [", min, ", ", max, "]"));
}

CLI::Validator HostPortOption(AddressOption kind, int min_port, const std::string& help) {
  return CLI::Validator(
      [kind, min_port, help](std::string& text) -> std::string {
        if (kind == AddressOption::kMetrics && text.empty()) return "";
        const absl::Status s = kind == AddressOption::kGrpc
                                   ? CheckHostPort("", text, min_port, help)
                                   : SplitHostPort("", text, min_port, help).status();
        return std::string(s.message());  // "" for OK; CLI11 names the option first
      },
      "HOST:PORT");
}

CLI::Validator NotEmpty() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "must not be empty (leave the option out instead)" : "";
      },
      "TEXT");
}

int ExitWithError(const std::string& tool, const absl::Status& status) {
  if (LogsAsJson()) {
    // Written whatever --log_level says: it is why the process ends.
    std::cerr << JsonLogLine("error", tool, status.message()) << std::flush;
  } else {
    std::cerr << tool << ": " << status.message() << "\n";
  }
  return ExitCodeFor(status);
}

int ExitWithCode(const std::string& tool, int code, const absl::Status& status) {
  ExitWithError(tool, status);
  if (code == kExitUsage) std::cerr << kRunWithHelp;
  return code;
}

}  // namespace polytrain
