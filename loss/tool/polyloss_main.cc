// polyloss: inspect and evaluate PolyLoss specs from the terminal.
//
//   polyloss describe --spec FILE            the named form, coefficients and curve
//   polyloss curve --spec FILE... [--pt LIST] [--plot F]
//                                            L(pt) and dL/dpt at the given points
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
#include "cli/command_line.h"
#include "cli/exit_codes.h"
#include "common/allocator.h"
#include "loss/core/describe.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/loss_spec.h"
#include "loss/tool/loss_bench.h"
#include "loss/tool/loss_commands.h"
#include "loss/tool/numeric_csv.h"
#include "loss/torch/poly_loss.h"
#include "nlohmann/json.hpp"

namespace polytrain::loss {
namespace {

constexpr char kTool[] = "polyloss";

// One line on stderr, then the exit code.
int Fail(int code, const std::string& message) {
  std::cerr << kTool << ": " << message << "\n";
  return code;
}

int RunEval(const std::string& spec_path, const std::string& logits_path,
            const std::string& targets_path, const std::string& format) {
  absl::StatusOr<LossConfig> config = ReadLossFile(spec_path);
  if (!config.ok()) return Fail(kExitInvalid, std::string(config.status().message()));
  absl::StatusOr<NumericTable> logits_table = ReadNumericCsv(logits_path);
  if (!logits_table.ok()) {
    return Fail(kExitInvalid, std::string(logits_table.status().message()));
  }
  absl::StatusOr<NumericTable> targets_table = ReadNumericCsv(targets_path);
  if (!targets_table.ok()) {
    return Fail(kExitInvalid, std::string(targets_table.status().message()));
  }
  const bool sigmoid = config->activation == Activation::kSigmoid;
  const int64_t rows = logits_table->rows, cols = logits_table->cols;
  if (targets_table->rows != rows || targets_table->cols != (sigmoid ? cols : 1)) {
    return Fail(kExitInvalid,
                absl::StrCat(targets_path, ": expected ", rows, " rows of ",
                             sigmoid ? absl::StrCat(cols, " values (0/1 per class)")
                                     : std::string("1 class index"),
                             ", got ", targets_table->rows, " x ", targets_table->cols));
  }
  for (double v : logits_table->values) {
    if (!std::isfinite(v)) {
      return Fail(kExitInvalid, absl::StrCat(logits_path, ": logits must be finite"));
    }
  }

  torch::Tensor logits =
      torch::tensor(logits_table->values, torch::kDouble).view({rows, cols}).requires_grad_(true);
  torch::Tensor targets = torch::tensor(targets_table->values, torch::kDouble);
  if (sigmoid) {
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double v = targets_table->values[i];
      const bool ignored =
          config->ignore_index.has_value() && v == static_cast<double>(*config->ignore_index);
      if (!ignored && !(v >= 0 && v <= 1)) {
        return Fail(kExitInvalid,
                    absl::StrCat(targets_path, ":", targets_table->lines[i / cols], ": column ",
                                 i % cols + 1, ": sigmoid targets must be in [0, 1]",
                                 config->ignore_index.has_value()
                                     ? absl::StrCat(" or ignore_index ", *config->ignore_index)
                                     : std::string(),
                                 ", got ", v));
      }
    }
    targets = targets.view({rows, cols});
  } else {
    for (int64_t row = 0; row < rows; ++row) {
      const double v = targets_table->values[row];
      if (v != std::floor(v)) {
        return Fail(kExitInvalid, absl::StrCat(targets_path, ":", targets_table->lines[row],
                                               ": class indices must be integers, got ", v));
      }
      // Beyond int64 the conversion is undefined.
      const bool ignored = std::fabs(v) < 9.2e18 && config->ignore_index.has_value() &&
                           static_cast<int64_t>(v) == *config->ignore_index;
      if (!ignored && !(v >= 0 && v < cols)) {
        return Fail(
            kExitInvalid,
            absl::StrCat(targets_path, ":", targets_table->lines[row], ": class index ", v,
                         " is outside [0, ", cols, ") (the logits have ", cols,
                         cols == 1 ? " column)" : " columns)",
                         config->ignore_index.has_value()
                             ? absl::StrCat(" and is not ignore_index ", *config->ignore_index)
                             : std::string()));
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
    return Fail(kExitInvalid, e.what_without_backtrace());
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

int RunBench(const LossBenchOptions& options) {
  absl::StatusOr<std::vector<LossBenchRow>> rows = RunLossBench(options);
  if (!rows.ok()) {
    std::cerr << kTool << ": " << rows.status().message() << "\n";
    return kExitUsage;
  }
  std::cout << FormatLossBench(options, *rows) << std::flush;
  return 0;
}

int Main(int argc, char** argv) {
  TuneAllocatorForTensors();
  CLI::App app{
      "polyloss: inspect and evaluate PolyLoss specs (LossSpec in .txtpb, .json or .yaml).\n"
      "Example: polyloss describe --spec examples/losses/poly1.txtpb"};
  app.footer(ExitCodesHelp());
  app.require_subcommand(1);
  int exit_code = kExitUsage;
  AddLossCommands(app, kTool, &exit_code);

  std::string spec, format = "text", logits_path, targets_path;
  auto* eval = app.add_subcommand(
      "eval", "Per-sample loss, reduced loss and d loss/d logits by the training kernels.");
  eval->add_option("--spec", spec, "LossSpec file (.txtpb, .json or .yaml)")
      ->required()
      ->check(ExistingPath());
  eval->add_option("--logits", logits_path, "CSV, one sample per line, one column per class")
      ->required()
      ->check(ExistingPath());
  eval->add_option("--targets", targets_path,
                   "CSV: a class index per line (softmax) or 0/1 per class (sigmoid)")
      ->required()
      ->check(ExistingPath());
  eval->add_option("--format", format, "text or json")
      ->transform(CLI::IsMember({"text", "json"}, CLI::ignore_case))
      ->capture_default_str();

  LossBenchOptions bench_options;
  auto* bench = app.add_subcommand(
      "bench", "Time forward+backward: torch cross_entropy vs fused vs naive PolyLoss.");
  bench->add_option("--batch", bench_options.batch, "batch size (batch x classes at most 2^28)")
      ->check(IntegerRange(1, 1 << 20))
      ->capture_default_str();
  bench->add_option("--classes", bench_options.classes, "classes")
      ->check(IntegerRange(2, 1 << 20))
      ->capture_default_str();
  bench
      ->add_option("--target-margin", bench_options.target_margin,
                   "added to each row's target logit (20: every row confident, p_t > 0.99)")
      ->check(FiniteRange(0.0, 100.0))
      ->capture_default_str();
  bench->add_option("--warmup", bench_options.warmup, "untimed rounds")
      ->check(IntegerRange(0, 1000))
      ->capture_default_str();
  bench->add_option("--rounds", bench_options.rounds, "timed rounds")
      ->check(IntegerRange(1, 1000))
      ->capture_default_str();
  bench->add_option("--threads", bench_options.threads, "LibTorch intra-op threads")
      ->check(IntegerRange(1, 256))
      ->capture_default_str();
  bench->add_option("--filter", bench_options.filter, "only cases whose name contains this")
      ->check(NotEmpty());
  bench->add_option("--device", bench_options.device, "cpu or cuda")
      ->transform(CLI::IsMember({"cpu", "cuda"}, CLI::ignore_case))
      ->capture_default_str();
  std::string bench_path = "auto";
  bench
      ->add_option("--path", bench_path,
                   "where the fused op's series runs: auto (host for cpu, device for cuda), "
                   "host or device")
      ->transform(CLI::IsMember({"auto", "host", "device"}, CLI::ignore_case))
      ->capture_default_str();
  bool no_naive = false, no_sigmoid = false;
  bench->add_flag("--no-naive", no_naive, "skip the naive compositions");
  bench->add_flag("--no-sigmoid", no_sigmoid, "skip the sigmoid cases");

  try {
    // describe and curve run as they are parsed.
    if (std::optional<int> exit = ParseCommandLine(app, argc, argv)) return *exit;
    if (*eval) return RunEval(spec, logits_path, targets_path, format);
    if (*bench) {
      bench_options.path = bench_path == "host"     ? KernelPath::kHost
                           : bench_path == "device" ? KernelPath::kDevice
                                                    : KernelPath::kAuto;
      bench_options.naive = !no_naive;
      bench_options.sigmoid = !no_sigmoid;
      // Logits, their gradient and the sigmoid targets are each batch x classes floats.
      constexpr int64_t kMaxBenchLogits = int64_t{1} << 28;
      if (bench_options.batch * bench_options.classes > kMaxBenchLogits) {
        return Fail(kExitUsage, absl::StrCat("--batch x --classes: at most ", kMaxBenchLogits,
                                             " logits (1 GiB of float32 each for logits, "
                                             "gradient and targets), got ",
                                             bench_options.batch * bench_options.classes));
      }
      if (bench_options.device == "cuda" && !torch::cuda::is_available()) {
        return Fail(kExitPrecondition, "bench --device cuda: LibTorch sees no CUDA device");
      }
      return RunBench(bench_options);
    }
  } catch (const std::exception& e) {
    return Fail(kExitInternal, e.what());
  }
  return exit_code;
}

}  // namespace
}  // namespace polytrain::loss

int main(int argc, char** argv) { return polytrain::loss::Main(argc, argv); }
