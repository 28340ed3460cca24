// polyctl sweeps [--state S]... [--owner NAME] [--limit N] [--page-token T] [--format table|json]
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/sweep_output.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct SweepsOptions {
  std::vector<std::string> states;
  std::string owner, page_token, format = "table";
  int limit = 50;
};

int RunSweeps(const SweepsOptions& options, CoordinatorClient& client) {
  polytrain::v1::ListSweepsRequest request;
  for (const std::string& state : options.states) {
    bool known = false;
    for (polytrain::v1::Sweep::State value :
         {polytrain::v1::Sweep::SWEEP_STATE_RUNNING, polytrain::v1::Sweep::SWEEP_STATE_DONE,
          polytrain::v1::Sweep::SWEEP_STATE_CANCELLED}) {
      // Any case, as polyctl list --state takes a job's state.
      if (absl::AsciiStrToLower(state) != SweepStateName(value)) continue;
      request.add_states(value);
      known = true;
    }
    if (!known) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--state: unknown state '", state, "'; one of running, done, cancelled")));
    }
  }
  request.set_owner(options.owner);
  request.set_page_size(options.limit);
  request.set_page_token(options.page_token);
  absl::StatusOr<polytrain::v1::ListSweepsResponse> response =
      client.Call(&polytrain::v1::Coordinator::Stub::ListSweeps, request);
  if (!response.ok()) return Fail(response.status());
  if (options.format == "json") {
    std::cout << ToJson(*response, /*include_defaults=*/true) << "\n";
    return kExitOk;
  }
  std::cout << SweepTable(*response);
  // On stderr: the table stays a table for whoever reads it.
  if (!response->next_page_token().empty()) {
    std::cerr << "polyctl: more sweeps: the next " << options.limit
              << " with the same filters and --page-token " << response->next_page_token() << "\n";
  }
  return kExitOk;
}

}  // namespace

Command AddSweepsCommand(CLI::App& app) {
  auto options = std::make_shared<SweepsOptions>();
  CLI::App* sweeps = app.add_subcommand(
      "sweeps", "List sweeps and searches, newest first (polyctl get SWEEP_ID for one's trials).");
  sweeps->add_option("--state", options->states,
                     "only sweeps in this state: running, done, cancelled (repeatable)");
  sweeps
      ->add_option("--owner", options->owner,
                   "only this token name's sweeps (an admin token; a client token lists its "
                   "own)")
      ->check(NotEmpty());
  sweeps->add_option("--limit", options->limit, "at most this many")
      ->check(IntegerRange(1, 1000))
      ->capture_default_str();
  sweeps
      ->add_option("--page-token", options->page_token,
                   "the page after a previous list (the token its table names on stderr)")
      ->check(NotEmpty());
  sweeps->add_option("--format", options->format, "table or json")
      ->transform(CLI::IsMember({"table", "json"}, CLI::ignore_case))
      ->capture_default_str();
  return {sweeps, [options](CoordinatorClient& client) { return RunSweeps(*options, client); }};
}

}  // namespace polytrain
