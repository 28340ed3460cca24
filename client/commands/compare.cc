// polyctl compare [IDS...] [--sweep ID]... [--group-by KEY] [--metric M] [--baseline LOSS]
//                 [--per-job] [--format table|json|csv] [--plot F.svg|F.png]
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/svg_chart.h"
#include "client/commands/commands.h"
#include "client/comparison_output.h"

namespace polytrain {
namespace {

struct CompareOptions {
  std::vector<std::string> ids, sweeps;
  std::string metric, baseline, group_by, format = "table", plot;
  bool per_job = false;
};

// The request: one sweep alone is compared as sweep_id; jobs and sweeps together, or several
// sweeps, as job_ids and sweep_ids (the coordinator reads each sweep's jobs, counting a job once).
// `sweep_args`: for each of sweep_ids, the argument that named it (--sweep, or the id itself).
polytrain::v1::CompareJobsRequest CompareRequest(const CompareOptions& options,
                                                 std::vector<std::string>* sweep_args) {
  std::vector<std::string> sweeps, jobs;
  std::set<std::string> named;  // a sweep given twice (an id and --sweep) is compared once
  for (const std::string& sweep : options.sweeps) {
    if (named.insert(sweep).second) {
      sweeps.push_back(sweep);
      sweep_args->push_back("--sweep");
    }
  }
  for (const std::string& id : options.ids) {
    if (!absl::StartsWith(id, "sweep-")) {
      jobs.push_back(id);
    } else if (named.insert(id).second) {
      sweeps.push_back(id);
      sweep_args->push_back(id);
    }
  }
  polytrain::v1::CompareJobsRequest request;
  request.set_metric(options.metric);
  request.set_baseline_loss(options.baseline);
  request.set_group_by(options.group_by);
  if (jobs.empty() && sweeps.size() == 1) {
    request.set_sweep_id(sweeps.front());
    return request;
  }
  for (const std::string& id : jobs) request.add_job_ids(id);
  for (const std::string& id : sweeps) request.add_sweep_ids(id);
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
  std::vector<std::string> sweep_args;
  const polytrain::v1::CompareJobsRequest request = CompareRequest(options, &sweep_args);
  absl::StatusOr<polytrain::v1::CompareJobsResponse> table =
      client.Call(&polytrain::v1::Coordinator::Stub::CompareJobs, request);
  if (!table.ok()) {
    // A refusal of sweep_ids[i] (or sweep_id, the one sweep) names the argument that gave it, as
    // the user wrote it.
    absl::string_view message = table.status().message();
    for (size_t i = 0; i < sweep_args.size(); ++i) {
      const std::string field =
          request.sweep_id().empty() ? absl::StrCat("sweep_ids[", i, "]: ") : "sweep_id: ";
      if (absl::ConsumePrefix(&message, field)) {
        return command_support::Fail(
            absl::Status(table.status().code(), absl::StrCat(sweep_args[i], ": ", message)));
      }
    }
    return command_support::Fail(table.status());
  }
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
      ->add_option("--group-by", options->group_by,
                   "a label key: pool each loss's runs per value of this label, so that variants "
                   "differing in more than the loss are compared apart (e.g. --group-by sweep for "
                   "sweeps run with another --set optimizer.learning_rate each, or --group-by lr "
                   "for jobs submitted with --label lr=...); each loss is tested against the "
                   "baseline of the same value")
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
