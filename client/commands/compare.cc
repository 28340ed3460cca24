// polyctl compare [IDS...] [--sweep ID]... [--metric M] [--baseline LOSS] [--per-job]
//                 [--format table|json|csv] [--plot F.svg|F.png]
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/limits.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/svg_chart.h"
#include "client/commands/commands.h"
#include "client/job_output.h"

namespace polytrain {
namespace {

struct CompareOptions {
  std::vector<std::string> ids, sweeps;
  std::string metric, baseline, format = "table", plot;
  bool per_job = false;
};

// Every job of `sweep` (named `field` in a refusal): NOT_FOUND saying why when it has none (no
// such sweep, another user's, every job of it deleted).
absl::StatusOr<std::vector<std::string>> SweepJobIds(CoordinatorClient& client,
                                                     const std::string& sweep,
                                                     const std::string& field) {
  polytrain::v1::ListJobsRequest request;
  (*request.mutable_labels())[kSweepLabel] = sweep;
  request.set_page_size(kMaxPageSize);
  std::vector<std::string> ids;
  do {
    absl::StatusOr<polytrain::v1::ListJobsResponse> page =
        client.Call(&polytrain::v1::Coordinator::Stub::ListJobs, request);
    if (!page.ok()) return page.status();
    for (const polytrain::v1::Job& job : page->jobs()) ids.push_back(job.id());
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  if (!ids.empty()) return ids;
  polytrain::v1::GetSweepRequest get;
  get.set_id(sweep);
  absl::StatusOr<polytrain::v1::Sweep> found =
      client.Call(&polytrain::v1::Coordinator::Stub::GetSweep, get);
  if (!found.ok()) {
    absl::string_view why = found.status().message();
    absl::ConsumePrefix(&why, "id: ");  // the request's field: here it is `field`
    return absl::Status(found.status().code(), absl::StrCat(field, ": ", why));
  }
  return absl::NotFoundError(absl::StrCat(field, ": no jobs in sweep ", sweep));
}

// The request: one sweep alone is compared as a sweep (the coordinator reads its jobs); jobs
// and sweeps together, or several sweeps, as the ids of all their jobs.
absl::StatusOr<polytrain::v1::CompareJobsRequest> CompareRequest(const CompareOptions& options,
                                                                 CoordinatorClient& client) {
  std::vector<std::pair<std::string, std::string>> sweeps;  // id, the argument that named it
  std::vector<std::string> jobs;
  for (const std::string& sweep : options.sweeps) sweeps.emplace_back(sweep, "--sweep");
  for (const std::string& id : options.ids) {
    if (absl::StartsWith(id, "sweep-")) {
      sweeps.emplace_back(id, id);
    } else {
      jobs.push_back(id);
    }
  }
  polytrain::v1::CompareJobsRequest request;
  request.set_metric(options.metric);
  request.set_baseline_loss(options.baseline);
  if (jobs.empty() && sweeps.size() == 1) {
    request.set_sweep_id(sweeps.front().first);
    return request;
  }
  // A sweep's job also named, or in another sweep named: once (ids given twice are the
  // coordinator's to refuse, naming them).
  std::set<std::string> named(jobs.begin(), jobs.end());
  for (const auto& [sweep, field] : sweeps) {
    absl::StatusOr<std::vector<std::string>> ids = SweepJobIds(client, sweep, field);
    if (!ids.ok()) return ids.status();
    for (const std::string& id : *ids) {
      if (named.insert(id).second) jobs.push_back(id);
    }
  }
  for (const std::string& id : jobs) request.add_job_ids(id);
  return request;
}

int RunCompare(const CompareOptions& options, CoordinatorClient& client) {
  if (options.ids.empty() && options.sweeps.empty()) {
    std::cerr << "polyctl: compare needs job ids, sweep ids or --sweep ID\n" << kRunWithHelp;
    return kExitUsage;
  }
  if (!options.plot.empty()) {
    if (absl::Status s = CheckPlotPath(options.plot); !s.ok()) return command_support::Fail(s);
  }
  absl::StatusOr<polytrain::v1::CompareJobsRequest> request = CompareRequest(options, client);
  if (!request.ok()) return command_support::Fail(request.status());
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table =
      client.Call(&polytrain::v1::Coordinator::Stub::CompareJobs, *request);
  if (!table.ok()) return command_support::Fail(table.status());
  // On stderr: the table (or CSV, JSON) stays what it is for whoever reads it.
  if (!table->note().empty()) std::cerr << "polyctl: note: " << table->note() << "\n";
  PrintComparison(*table, options.format, options.per_job);
  if (!options.plot.empty()) {
    if (absl::Status s = WriteChart(options.plot, ComparisonChart(*table)); !s.ok()) {
      return command_support::Fail(s);
    }
  }
  return kExitOk;
}

}  // namespace

Command AddCompareCommand(CLI::App& app) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* compare =
      app.add_subcommand("compare",
                         "Compare jobs or sweeps, per loss and per job (each loss's runs pooled "
                         "across them all).");
  compare->add_option("ids", options->ids,
                      "job ids, and sweep ids (sweep-...: every job of the sweep)");
  compare->add_option("--sweep", options->sweeps, "every job of this sweep (repeatable)")
      ->check(NotEmpty());
  compare
      ->add_option(
          "--metric", options->metric,
          "evaluation metric (default eval_accuracy; eval_nll compares likelihoods across losses, "
          "eval_loss is each job's own loss)")
      ->check(NotEmpty());
  compare->add_option("--baseline", options->baseline, "baseline loss (default ce, else the first)")
      ->check(NotEmpty());
  compare->add_flag("--per-job", options->per_job,
                    "also one row per job (with --format csv: the rows of the jobs instead)");
  compare->add_option("--format", options->format, "table, json or csv")
      ->transform(CLI::IsMember({"table", "json", "csv"}, CLI::ignore_case))
      ->capture_default_str();
  compare
      ->add_option("--plot", options->plot,
                   "also draw the runs' curves, coloured by loss (.svg or .png)")
      ->check(NotEmpty());
  return {compare, [options](CoordinatorClient& client) { return RunCompare(*options, client); }};
}

}  // namespace polytrain
