#include "client/comparison_output.h"

#include <cmath>
#include <iostream>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/job_states.h"
#include "cli/svg_chart.h"
#include "cli/text_table.h"
#include "client/job_output.h"
#include "common/proto_file.h"

namespace polytrain {
namespace {

// A group as a table shows it: a job without the label, "-".
std::string GroupCell(const std::string& group) { return group.empty() ? "-" : group; }

// A row's group as "KEY=VALUE" (empty without group_by), to follow its loss's name.
std::string GroupWords(const polytrain::v1::CompareJobsResponse& table, const std::string& group) {
  return table.group_by().empty() ? "" : absl::StrCat(table.group_by(), "=", GroupCell(group));
}

}  // namespace

std::string ComparisonChart(const polytrain::v1::CompareJobsResponse& table) {
  std::map<std::string, std::string> group_of;  // job id -> its series' group words
  for (const auto& job : table.jobs()) group_of[job.job_id()] = GroupWords(table, job.group());
  std::vector<std::pair<std::string, std::string>> legend;
  auto color_of = [&](const std::string& loss) {
    for (const auto& [name, color] : legend) {
      if (name == loss) return color;
    }
    legend.emplace_back(loss, PaletteColor(legend.size()));
    return legend.back().second;
  };
  ChartPanel eval{table.metric() + " by step", "step", table.metric(), {}};
  ChartPanel train{"train loss by step", "step", "train loss", {}};
  for (const auto& curve : table.curves()) {
    const std::string& group = group_of[curve.job_id()];
    const std::string name =
        group.empty() ? curve.loss_name() : absl::StrCat(curve.loss_name(), " ", group);
    const std::string color = color_of(name);
    ChartSeries e{name, color, {}, {curve.eval_values().begin(), curve.eval_values().end()}};
    for (int64_t step : curve.eval_steps()) e.x.push_back(static_cast<double>(step));
    ChartSeries t{name, color, {}, {curve.train_loss().begin(), curve.train_loss().end()}};
    for (int64_t step : curve.train_steps()) t.x.push_back(static_cast<double>(step));
    eval.series.push_back(std::move(e));
    train.series.push_back(std::move(t));
  }
  return RenderSvg({eval, train}, legend);
}

void PrintComparison(const polytrain::v1::CompareJobsResponse& table, const std::string& format,
                     bool per_job) {
  if (format == "json") {
    std::cout << ToJson(table, true) << "\n";
    return;
  }
  // With group_by, the label's value leads each row ("group", as in JSON: the key may be a
  // column's name, e.g. "loss"; a table heads it with the key).
  const bool grouped = !table.group_by().empty();
  const std::string group_header = grouped ? "group," : "";
  auto group_field = [&](const std::string& group) {
    return grouped ? CsvField(group) + "," : std::string();
  };
  if (format == "csv" && per_job) {  // one table per CSV: the jobs' rows alone
    std::cout << group_header << "job_id,name,loss,state,seed,final_value,best_value,seconds\n";
    for (const auto& j : table.jobs()) {
      std::cout << group_field(j.group())
                << absl::StrCat(j.job_id(), ",", CsvField(j.name()), ",", CsvField(j.loss_name()),
                                ",", JobStateWord(j.state()), ",", j.seed(), ",",
                                Exact(j.final_value()), ",", Exact(j.best_value()), ",",
                                Exact(j.seconds()))
                << "\n";
    }
    return;
  }
  if (format == "csv") {
    std::cout << group_header
              << "loss,runs,mean,std,ci95_low,ci95_high,p_value,baseline,mean_best,mean_ece\n";
    for (const auto& r : table.losses()) {
      std::cout << group_field(r.group())
                << absl::StrCat(CsvField(r.loss_name()), ",", r.runs(), ",", Exact(r.mean()), ",",
                                Exact(r.std()), ",", Exact(r.ci95_low()), ",", Exact(r.ci95_high()),
                                ",", Exact(r.p_value()), ",", r.baseline() ? "true" : "false", ",",
                                Exact(r.mean_best()), ",", Exact(r.mean_ece()))
                << "\n";
    }
    return;
  }
  std::cout << table.metric() << " by loss" << (grouped ? " and " + table.group_by() : "")
            << " (mean over seeds; p: Welch's t-test vs " << table.baseline_loss()
            << (grouped ? " of the same " + table.group_by() : "") << ")\n";
  // With group_by, a first column of the label's values.
  auto columns = [&](std::vector<TextTable::Column> rest) {
    if (grouped) rest.insert(rest.begin(), TextTable::Column{table.group_by(), 8});
    return rest;
  };
  auto cells = [&](const std::string& group, std::vector<std::string> rest) {
    if (grouped) rest.insert(rest.begin(), GroupCell(group));
    return rest;
  };
  TextTable losses(columns({{"loss", 28},
                            {"runs", 4, true},
                            {"mean", 8, true},
                            {"std", 8, true},
                            {"95% interval", 19, false, 2},
                            {"p", 9, true},
                            {"best", 8, true},
                            {"ece", 8, true}}));
  for (const auto& r : table.losses()) {
    const std::string interval =
        std::isnan(r.ci95_low())
            ? "-"
            : absl::StrCat("[", Fixed(r.ci95_low()), ", ", Fixed(r.ci95_high()), "]");
    // One run has no spread to show (the reply's std is 0 then): "-", as for its interval.
    losses.AddRow(cells(r.group(), {r.loss_name(), absl::StrCat(r.runs()), Fixed(r.mean()),
                                    r.runs() < 2 ? "-" : Fixed(r.std()), interval,
                                    r.baseline() ? "baseline" : Fixed(r.p_value(), 3),
                                    Fixed(r.mean_best()), Fixed(r.mean_ece())}));
  }
  std::cout << losses.ToString() << std::flush;
  if (!per_job) return;
  TextTable jobs(columns({{"job", 18},
                          {"name", 28},
                          {"loss", 28},
                          {"state", 10},
                          {"seed", 6, true},
                          {"final", 8, true},
                          {"best", 8, true},
                          {"seconds", 8, true}}));
  for (const auto& j : table.jobs()) {
    jobs.AddRow(cells(j.group(), {j.job_id(), j.name(), j.loss_name(), JobStateWord(j.state()),
                                  absl::StrCat(j.seed()), Fixed(j.final_value()),
                                  Fixed(j.best_value()), absl::StrFormat("%.1f", j.seconds())}));
  }
  std::cout << "\n" << jobs.ToString() << std::flush;
}

}  // namespace polytrain
