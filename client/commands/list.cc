// polyctl list [--state S]... [--label K=V]... [--sweep ID] [--limit N] [--page-token T]
//              [--format table|json]
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "api/job_states.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "client/commands/commands.h"
#include "client/job_output.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

using namespace command_support;  // NOLINT(build/namespaces): the commands' shared helpers

struct ListOptions {
  std::vector<std::string> states, labels;
  std::string sweep, page_token, format = "table";
  int limit = 50;
};

// The states a job can be in, as --state takes them: "queued, running, ...".
std::string StateNames() {
  std::vector<std::string> names;
  const google::protobuf::EnumDescriptor* states = polytrain::v1::JobState_descriptor();
  for (int i = 0; i < states->value_count(); ++i) {
    if (states->value(i)->number() == polytrain::v1::JOB_STATE_UNSPECIFIED) continue;
    names.push_back(JobStateWord(static_cast<polytrain::v1::JobState>(states->value(i)->number())));
  }
  return absl::StrJoin(names, ", ");
}

int RunList(const ListOptions& options, CoordinatorClient& client) {
  polytrain::v1::ListJobsRequest request;
  for (const std::string& state : options.states) {
    polytrain::v1::JobState value;
    if (!ParseJobStateWord(state, &value)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--state: unknown state '", state, "'; one of ", StateNames())));
    }
    request.add_states(value);
  }
  if (absl::Status s = ApplyLabels(options.labels, request.mutable_labels()); !s.ok()) {
    return Fail(s);
  }
  if (!options.sweep.empty()) (*request.mutable_labels())["sweep"] = options.sweep;
  request.set_page_size(options.limit);
  request.set_page_token(options.page_token);
  absl::StatusOr<polytrain::v1::ListJobsResponse> response =
      client.Call(&polytrain::v1::Coordinator::Stub::ListJobs, request);
  if (!response.ok()) return Fail(response.status());
  if (!options.sweep.empty() && response->jobs().empty() && options.states.empty() &&
      options.labels.empty()) {
    // Why none: no such sweep, another user's, or every job of it deleted.
    polytrain::v1::GetSweepRequest get;
    get.set_id(options.sweep);
    absl::StatusOr<polytrain::v1::Sweep> sweep =
        client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, get);
    if (!sweep.ok()) {
      absl::string_view why = sweep.status().message();
      absl::ConsumePrefix(&why, "id: ");  // the request's field: here it is --sweep
      return Fail(absl::Status(sweep.status().code(), absl::StrCat("--sweep: ", why)));
    }
    return Fail(absl::NotFoundError(
        absl::StrCat("--sweep: no jobs in sweep ", options.sweep,
                     sweep->deleted_jobs() > 0
                         ? absl::StrCat(" (", sweep->deleted_jobs(), " deleted one by one)")
                         : "")));
  }
  if (options.format == "json") {
    std::cout << ToJson(*response, /*include_defaults=*/true) << "\n";
  } else {
    PrintJobTable(*response);
    // On stderr: the table stays a table for whoever reads it.
    if (!response->next_page_token().empty()) {
      std::cerr << "polyctl: more jobs: the next page (up to " << options.limit
                << ") with the same filters and --page-token " << response->next_page_token()
                << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

Command AddListCommand(CLI::App& app) {
  auto options = std::make_shared<ListOptions>();
  CLI::App* list = app.add_subcommand("list", "List jobs, newest first.");
  list->add_option("--state", options->states,
                   "only jobs in this state: " + StateNames() + " (repeatable)");
  list->add_option("--label", options->labels, "only jobs with this label KEY=VALUE (repeatable)");
  list->add_option("--sweep", options->sweep, "only jobs of this sweep")->check(NotEmpty());
  list->add_option("--limit", options->limit, "at most this many")
      ->check(IntegerRange(1, 1000))
      ->capture_default_str();
  list->add_option("--page-token", options->page_token,
                   "the page after a previous list (its next_page_token, or the token its table "
                   "names on stderr)")
      ->check(NotEmpty());
  list->add_option("--format", options->format, "table or json")
      ->transform(CLI::IsMember({"table", "json"}, CLI::ignore_case))
      ->capture_default_str();
  return {list, [options](CoordinatorClient& client) { return RunList(*options, client); }};
}

}  // namespace polytrain
