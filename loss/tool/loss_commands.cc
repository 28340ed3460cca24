#include "loss/tool/loss_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "cli/svg_chart.h"
#include "cli/text_table.h"
#include "common/proto_file.h"
#include "common/validation.h"
#include "loss/core/describe.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/curve_points.h"
#include "loss/spec/loss_spec.h"
#include "nlohmann/json.hpp"

namespace polytrain::loss {
namespace {

struct DescribeOptions {
  std::string file;
  std::string format = "text";
};

struct CurveOptions {
  std::vector<std::string> files;
  std::string points = "0.05,0.25,0.5,0.75,0.95";
  std::string format = "text";
  std::string plot;
};

nlohmann::ordered_json CurveJson(const std::vector<CurvePoint>& curve) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const CurvePoint& p : curve) {
    out.push_back(
        {{"pt", p.pt}, {"loss", JsonNumber(p.loss)}, {"dloss_dpt", JsonNumber(p.dloss_dpt)}});
  }
  return out;
}

// One loss's curve, a row per point: each pt as given (1 - 1e-12 is not 1), L and its slope to
// 8 digits.
std::string CurveRows(const std::vector<CurvePoint>& curve) {
  std::vector<std::string> pts;
  size_t width = 6;
  for (const CurvePoint& p : curve) {
    pts.push_back(ExactNumber(p.pt));
    width = std::max(width, pts.back().size());
  }
  const int w = static_cast<int>(width);
  std::string out = absl::StrFormat("  %*s  %15s  %15s\n", w, "pt", "L(pt)", "dL/dpt");
  for (size_t i = 0; i < curve.size(); ++i) {
    absl::StrAppend(&out, absl::StrFormat("  %*s  %15.8g  %15.8g\n", w, pts[i], curve[i].loss,
                                          curve[i].dloss_dpt));
  }
  return out;
}

// The curve is a function of pt alone: a hard target of weight 1. Said where the loss has what
// it leaves out, so that two such losses with one curve are not taken for one loss.
std::string CurveScope(const LossConfig& config) {
  if (config.label_smoothing == 0.0 && !config.alpha && config.class_weights.empty()) return "";
  return "(the curve of a hard target of weight 1: label_smoothing, alpha and class_weights are "
         "not in it; polyloss eval applies them)\n";
}

// A point as a column header shows it: two decimals where they hold it exactly (0.05, 0.50),
// else as many as it has (0.001, 0.9999), so that no two points share a header.
std::string PointLabel(double pt) {
  return std::round(pt * 100) / 100 == pt ? absl::StrFormat("%.2f", pt) : absl::StrFormat("%g", pt);
}

// Several losses side by side, a row per loss.
std::string CurveTable(const std::vector<LossConfig>& configs, const std::vector<double>& pts) {
  std::vector<TextTable::Column> columns = {{"loss", /*min_width=*/28}};
  for (double pt : pts) {
    const std::string label = PointLabel(pt);
    columns.push_back({absl::StrCat("L(", label, ")"), 9, /*right_aligned=*/true});
    columns.push_back({absl::StrCat("dL(", label, ")"), 9, /*right_aligned=*/true});
  }
  TextTable table(std::move(columns));
  for (const LossConfig& config : configs) {
    std::vector<std::string> row = {ShortName(config)};
    for (const CurvePoint& point : EvaluateCurve(config.series, pts)) {
      // Significant digits, not decimals: focal's 1e-6 and 1e-8 at pt = 0.999 read apart.
      row.push_back(absl::StrFormat("%.5g", point.loss));
      row.push_back(absl::StrFormat("%.5g", point.dloss_dpt));
    }
    table.AddRow(std::move(row));
  }
  return table.ToString();
}

// L(pt) and dL/dpt of each loss on pt in (0, 1], one colour per loss.
std::string CurveChart(const std::vector<LossConfig>& configs) {
  std::vector<double> grid;
  for (int i = 4; i <= 200; ++i) grid.push_back(i / 200.0);  // from 0.02: L(0) is infinite
  ChartPanel value{"L(pt)", "pt", "loss", {}}, slope{"dL/dpt", "pt", "gradient", {}};
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string name = ShortName(configs[i]);
    legend.emplace_back(name, PaletteColor(i));
    ChartSeries l{name, PaletteColor(i), grid, {}}, g{name, PaletteColor(i), grid, {}};
    for (const CurvePoint& point : EvaluateCurve(configs[i].series, grid)) {
      l.y.push_back(point.loss);
      g.y.push_back(point.dloss_dpt);
    }
    value.series.push_back(std::move(l));
    slope.series.push_back(std::move(g));
  }
  return RenderSvg({value, slope}, legend);
}

absl::Status RunDescribe(const DescribeOptions& options) {
  absl::StatusOr<LossConfig> config = ReadLossFile(options.file);
  if (!config.ok()) return config.status();
  const std::vector<double> pts = {0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0};
  const std::vector<CurvePoint> curve = EvaluateCurve(config->series, pts);
  if (options.format != "json") {
    std::cout << Describe(*config) << "curve:\n" << CurveScope(*config) << CurveRows(curve);
    return absl::OkStatus();
  }
  nlohmann::ordered_json out;
  out["family"] = FamilyName(config->series);
  out["short_name"] = ShortName(*config);
  out["gamma"] = config->series.gamma;
  out["ce_tail"] = config->series.ce_tail;
  nlohmann::ordered_json alpha = nlohmann::ordered_json::array();
  // alpha_1..alpha_max(K, 10); with the CE tail, later ones are 1/j.
  for (int j = 1; j <= std::max(config->series.NumExtraTerms(), 10); ++j) {
    alpha.push_back(config->series.Alpha(j));
  }
  out["alpha"] = alpha;
  out["curve"] = CurveJson(curve);
  std::cout << out.dump(2) << "\n";
  return absl::OkStatus();
}

absl::Status RunCurve(const CurveOptions& options) {
  if (!options.plot.empty()) {
    if (absl::Status s = CheckPlotPath(options.plot); !s.ok()) return s;  // before any output
  }
  absl::StatusOr<std::vector<double>> pts = ParseCurvePoints(options.points);
  if (!pts.ok()) return pts.status();
  std::vector<LossConfig> configs;
  for (const std::string& path : options.files) {
    absl::StatusOr<LossConfig> config = ReadLossFile(path);
    if (!config.ok()) return config.status();
    configs.push_back(*std::move(config));
  }
  if (options.format == "table") {
    std::cout << CurveTable(configs, *pts);
  } else if (options.format == "json") {
    // One loss: its curve; several: one object per loss.
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const LossConfig& config : configs) {
      nlohmann::ordered_json curve = CurveJson(EvaluateCurve(config.series, *pts));
      if (configs.size() == 1) {
        out = std::move(curve);
      } else {
        out.push_back({{"short_name", ShortName(config)}, {"curve", std::move(curve)}});
      }
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (size_t i = 0; i < configs.size(); ++i) {
      std::cout << (i == 0 ? "" : "\n") << ShortName(configs[i]) << "\n"
                << CurveScope(configs[i]) << CurveRows(EvaluateCurve(configs[i].series, *pts));
    }
  }
  if (!options.plot.empty()) return WriteChart(options.plot, CurveChart(configs));
  return absl::OkStatus();
}

}  // namespace

nlohmann::ordered_json JsonNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  // A negative zero (the device kernels' loss of a confident sample, -log pt - (1 - pt) with
  // both 0) is printed as the 0 it is, not as -0.0.
  return v == 0.0 ? 0.0 : v;
}

absl::StatusOr<LossConfig> ReadLossFile(const std::string& path) {
  polytrain::v1::LossSpec spec;
  if (absl::Status s = ReadProtoFile(path, &spec); !s.ok()) return s;
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

// CLI11 adds " is required".
constexpr char kLossFileNeeded[] = "a LossSpec file (FILE or --spec FILE)";

void AddLossCommands(CLI::App& parent, const std::string& tool, int* exit_code) {
  auto describe_options = std::make_shared<DescribeOptions>();
  CLI::App* describe = parent.add_subcommand(
      "describe", "The named form of a loss, its coefficients alpha_j and its curve L(pt).");
  describe
      ->add_option("file,--spec", describe_options->file,
                   "LossSpec file (.txtpb, .json, .yaml), needed: give it as FILE or as --spec "
                   "FILE, not both")
      ->check(ExistingPath());
  describe->add_option("--format", describe_options->format, "text or json")
      ->transform(CLI::IsMember({"text", "json"}, CLI::ignore_case))
      ->capture_default_str();
  // Needed, but not marked required(): CLI11 would print REQUIRED beside both of its names.
  describe->callback([describe_options, tool, exit_code] {
    if (describe_options->file.empty()) throw CLI::RequiredError(kLossFileNeeded);
    const absl::Status status = RunDescribe(*describe_options);
    *exit_code = status.ok() ? kExitOk : ExitWithError(tool, status);
  });

  auto curve_options = std::make_shared<CurveOptions>();
  CLI::App* curve = parent.add_subcommand(
      "curve",
      "L(pt) and dL/dpt of one or more losses for a hard target of weight 1 (label_smoothing, "
      "alpha and class_weights are not in the curve: polyloss eval applies them to a batch); "
      "--plot draws them on one chart.");
  curve
      ->add_option("files,--spec", curve_options->files,
                   "LossSpec files (.txtpb, .json, .yaml), at least one: as FILES... or as "
                   "--spec FILE, which may repeat")
      ->check(ExistingPath());
  curve->add_option("--pt", curve_options->points, "comma-separated points in [0, 1]")
      ->capture_default_str();
  curve
      ->add_option("--format", curve_options->format,
                   "text (a table per loss), table (a row per loss) or json")
      ->transform(CLI::IsMember({"text", "table", "json"}, CLI::ignore_case))
      ->capture_default_str();
  curve
      ->add_option("--plot", curve_options->plot,
                   "also draw L(pt) and dL/dpt on pt in (0, 1] (.svg or .png)")
      ->check(NotEmpty());
  curve->callback([curve_options, tool, exit_code] {
    if (curve_options->files.empty()) throw CLI::RequiredError(kLossFileNeeded);
    const absl::Status status = RunCurve(*curve_options);
    *exit_code = status.ok() ? kExitOk : ExitWithError(tool, status);
  });
}

}  // namespace polytrain::loss
