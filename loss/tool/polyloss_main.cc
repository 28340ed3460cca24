// polyloss: inspect and evaluate PolyLoss specs from the terminal.
//
//   polyloss describe --spec FILE            the named form, coefficients and curve
//   polyloss curve --spec FILE --pt LIST     L(pt) and dL/dpt at the given points
//   polyloss eval --spec FILE --logits CSV --targets CSV
//                                            loss and gradient by the training kernels
//   polyloss bench                           fused vs torch vs naive, forward + backward
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/loss_bench.h"
#include "common/allocator.h"
#include "common/proto_file.h"
#include "loss/core/describe.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/curve_points.h"
#include "loss/spec/loss_spec.h"
#include "loss/tool/numeric_csv.h"
#include "loss/torch/poly_loss.h"
#include "nlohmann/json.hpp"

namespace polytrain::loss {
namespace {

// Exit codes, documented in --help.
constexpr int kExitInvalidInput = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInternal = 3;

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 success, 1 invalid input (spec, CSV or --pt values; the message names the "
    "field or line), 2 bad command line, 3 internal error.";

// One line on stderr, then the exit code.
int Fail(int code, const std::string& message) {
  std::cerr << "polyloss: " << message << "\n";
  return code;
}

// JSON numbers as protobuf's JSON mapping writes them: non-finite values as strings.
nlohmann::ordered_json JsonNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

absl::StatusOr<LossConfig> LoadConfig(const std::string& path) {
  polytrain::v1::LossSpec spec;
  if (absl::Status s = ReadProtoFile(path, &spec); !s.ok()) return s;
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

std::string CurveTable(const std::vector<CurvePoint>& curve) {
  std::string out = absl::StrCat("      pt            L(pt)        dL/dpt\n");
  for (const CurvePoint& p : curve) {
    char line[96];
    std::snprintf(line, sizeof(line), "  %6.4f  %15.8g  %12.6g\n", p.pt, p.loss, p.dloss_dpt);
    out += line;
  }
  return out;
}

int RunDescribe(const std::string& spec_path, const std::string& format) {
  absl::StatusOr<LossConfig> config = LoadConfig(spec_path);
  if (!config.ok()) return Fail(kExitInvalidInput, std::string(config.status().message()));
  const std::vector<double> pts = {0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0};
  const std::vector<CurvePoint> curve = EvaluateCurve(config->series, pts);
  if (format == "json") {
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
    for (const CurvePoint& p : curve) {
      out["curve"].push_back(
          {{"pt", p.pt}, {"loss", JsonNumber(p.loss)}, {"dloss_dpt", JsonNumber(p.dloss_dpt)}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << Describe(*config) << "curve:\n" << CurveTable(curve);
  }
  return 0;
}

int RunCurve(const std::string& spec_path, const std::string& pt_text, const std::string& format) {
  absl::StatusOr<LossConfig> config = LoadConfig(spec_path);
  if (!config.ok()) return Fail(kExitInvalidInput, std::string(config.status().message()));
  absl::StatusOr<std::vector<double>> pts = ParseCurvePoints(pt_text);
  if (!pts.ok()) return Fail(kExitInvalidInput, std::string(pts.status().message()));
  const std::vector<CurvePoint> curve = EvaluateCurve(config->series, *pts);
  if (format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const CurvePoint& p : curve) {
      out.push_back(
          {{"pt", p.pt}, {"loss", JsonNumber(p.loss)}, {"dloss_dpt", JsonNumber(p.dloss_dpt)}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << ShortName(*config) << "\n" << CurveTable(curve);
  }
  return 0;
}

int RunEval(const std::string& spec_path, const std::string& logits_path,
            const std::string& targets_path, const std::string& format) {
  absl::StatusOr<LossConfig> config = LoadConfig(spec_path);
  if (!config.ok()) return Fail(kExitInvalidInput, std::string(config.status().message()));
  absl::StatusOr<NumericTable> logits_table = ReadNumericCsv(logits_path);
  if (!logits_table.ok()) {
    return Fail(kExitInvalidInput, std::string(logits_table.status().message()));
  }
  absl::StatusOr<NumericTable> targets_table = ReadNumericCsv(targets_path);
  if (!targets_table.ok()) {
    return Fail(kExitInvalidInput, std::string(targets_table.status().message()));
  }
  const bool sigmoid = config->activation == Activation::kSigmoid;
  const int64_t rows = logits_table->rows, cols = logits_table->cols;
  if (targets_table->rows != rows || targets_table->cols != (sigmoid ? cols : 1)) {
    return Fail(kExitInvalidInput,
                absl::StrCat(targets_path, ": expected ", rows, " rows of ",
                             sigmoid ? absl::StrCat(cols, " values (0/1 per class)")
                                     : std::string("1 class index"),
                             ", got ", targets_table->rows, " x ", targets_table->cols));
  }
  for (double v : logits_table->values) {
    if (!std::isfinite(v)) {
      return Fail(kExitInvalidInput, absl::StrCat(logits_path, ": logits must be finite"));
    }
  }

  torch::Tensor logits =
      torch::tensor(logits_table->values, torch::kDouble).view({rows, cols}).requires_grad_(true);
  torch::Tensor targets = torch::tensor(targets_table->values, torch::kDouble);
  if (sigmoid) {
    targets = targets.view({rows, cols});
  } else {
    for (double v : targets_table->values) {
      if (v != std::floor(v)) {
        return Fail(kExitInvalidInput,
                    absl::StrCat(targets_path, ": class indices must be integers, got ", v));
      }
    }
    targets = targets.to(torch::kLong);
  }

  nlohmann::ordered_json out;
  try {
    LossConfig per_sample_config = *config;
    per_sample_config.reduction = Reduction::kNone;
    const torch::Tensor per_sample = PolyLoss(per_sample_config)(logits.detach(), targets);
    const torch::Tensor loss = PolyLoss(*config)(logits, targets);
    // With reduction none, the gradient is that of the sum of per-sample losses.
    (config->reduction == Reduction::kNone ? loss.sum() : loss).backward();
    const torch::Tensor grad = logits.grad();

    out["short_name"] = ShortName(*config);
    out["reduction"] = config->reduction == Reduction::kNone  ? "none"
                       : config->reduction == Reduction::kSum ? "sum"
                                                              : "mean";
    if (config->reduction != Reduction::kNone) out["loss"] = JsonNumber(loss.item<double>());
    nlohmann::ordered_json samples = nlohmann::ordered_json::array();
    nlohmann::ordered_json grads = nlohmann::ordered_json::array();
    const auto flat = per_sample.contiguous().view({rows, -1});
    for (int64_t i = 0; i < rows; ++i) {
      nlohmann::ordered_json sample_loss = nlohmann::ordered_json::array();
      for (int64_t k = 0; k < flat.size(1); ++k) {
        sample_loss.push_back(JsonNumber(flat[i][k].item<double>()));
      }
      samples.push_back(sigmoid ? sample_loss : sample_loss[0]);
      nlohmann::ordered_json row = nlohmann::ordered_json::array();
      for (int64_t k = 0; k < cols; ++k) row.push_back(JsonNumber(grad[i][k].item<double>()));
      grads.push_back(row);
    }
    out["per_sample"] = samples;
    out["dloss_dlogits"] = grads;
  } catch (const c10::Error& e) {
    return Fail(kExitInvalidInput, e.what_without_backtrace());
  }

  if (format == "json") {
    std::cout << out.dump(2) << "\n";
  } else {
    if (out.contains("loss")) {
      std::cout << "loss (" << out["reduction"].get<std::string>() << "): " << out["loss"] << "\n";
    }
    for (size_t i = 0; i < out["per_sample"].size(); ++i) {
      std::cout << "sample " << i << ": loss " << out["per_sample"][i] << "  grad "
                << out["dloss_dlogits"][i] << "\n";
    }
  }
  return 0;
}

int RunBench(const bench::LossBenchOptions& options) {
  std::cout << bench::FormatLossBench(options, bench::RunLossBench(options)) << std::flush;
  return 0;
}

int Main(int argc, char** argv) {
  TuneAllocatorForTensors();
  CLI::App app{
      "polyloss: inspect and evaluate PolyLoss specs (LossSpec in .txtpb or .json).\n"
      "Example: polyloss describe --spec examples/losses/poly1.txtpb"};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);

  std::string spec, format = "text", pts, logits_path, targets_path;
  auto* describe = app.add_subcommand(
      "describe", "Print the named form, the coefficients alpha_j and the curve L(pt).");
  describe->add_option("--spec", spec, "LossSpec file (.txtpb or .json)")
      ->required()
      ->check(CLI::ExistingFile);
  describe->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  auto* curve = app.add_subcommand("curve", "Print L(pt) and dL/dpt at the given points.");
  curve->add_option("--spec", spec, "LossSpec file (.txtpb or .json)")
      ->required()
      ->check(CLI::ExistingFile);
  curve->add_option("--pt", pts, "comma-separated points in [0, 1], e.g. 0.05,0.5,0.95")
      ->required();
  curve->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  auto* eval = app.add_subcommand(
      "eval", "Per-sample loss, reduced loss and d loss/d logits by the training kernels.");
  eval->add_option("--spec", spec, "LossSpec file (.txtpb or .json)")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--logits", logits_path, "CSV, one sample per line, one column per class")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--targets", targets_path,
                   "CSV: a class index per line (softmax) or 0/1 per class (sigmoid)")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  bench::LossBenchOptions bench_options;
  auto* bench = app.add_subcommand(
      "bench", "Time forward+backward: torch cross_entropy vs fused vs naive PolyLoss.");
  bench->add_option("--batch", bench_options.batch, "batch size")->check(CLI::Range(1, 1 << 20));
  bench->add_option("--classes", bench_options.classes, "classes")->check(CLI::Range(2, 1 << 20));
  bench->add_option("--warmup", bench_options.warmup, "untimed rounds")->check(CLI::Range(0, 1000));
  bench->add_option("--rounds", bench_options.rounds, "timed rounds")->check(CLI::Range(1, 1000));
  bench->add_option("--threads", bench_options.threads, "LibTorch intra-op threads")
      ->check(CLI::Range(1, 256));
  bench->add_option("--filter", bench_options.filter, "only cases whose name contains this");
  bench->add_flag("!--no-naive", bench_options.naive, "skip the naive compositions");
  bench->add_flag("!--no-sigmoid", bench_options.sigmoid, "skip the sigmoid cases");

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

  try {
    if (*describe) return RunDescribe(spec, format);
    if (*curve) return RunCurve(spec, pts, format);
    if (*eval) return RunEval(spec, logits_path, targets_path, format);
    if (*bench) return RunBench(bench_options);
  } catch (const std::exception& e) {
    return Fail(kExitInternal, e.what());
  }
  return kExitUsage;
}

}  // namespace
}  // namespace polytrain::loss

int main(int argc, char** argv) { return polytrain::loss::Main(argc, argv); }
