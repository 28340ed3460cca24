#include "loss/tool/loss_bench.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "loss/core/loss_config.h"
#include "loss/torch/poly_loss.h"

namespace polytrain::loss {
namespace {

using loss::LossConfig;
using loss::PolySeries;

struct Case {
  std::string group;
  std::string name;
  bool baseline = false;
  std::function<torch::Tensor()> run;  // returns the scalar loss
  std::vector<double> times_ms;
};

LossConfig Softmax(PolySeries series, double smoothing = 0.0) {
  LossConfig config;
  config.series = std::move(series);
  config.label_smoothing = smoothing;
  return config;
}

LossConfig Sigmoid(PolySeries series, std::optional<double> alpha) {
  LossConfig config = Softmax(std::move(series));
  config.activation = loss::Activation::kSigmoid;
  config.alpha = alpha;
  return config;
}

PolySeries PolyN(int n, double gamma = 0.0) {
  PolySeries s;
  s.gamma = gamma;
  for (int j = 1; j <= n; ++j) s.extra.push_back(j == 1 ? 2.0 : 1.0 / (2.0 * j));
  return s;
}

// Poly-1 with epsilon = -1: its first coefficient cancels the cross-entropy's first power of
// 1 - pt, so its hard targets' losses take HardTargetLoss's sum (loss/core/sample_math.h).
PolySeries Poly1Cancelling() {
  PolySeries s;
  s.extra = {-1.0};
  return s;
}

PolySeries Focal(double gamma) {
  PolySeries s;
  s.gamma = gamma;
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

absl::StatusOr<std::vector<LossBenchRow>> RunLossBench(const LossBenchOptions& options) {
  TuneAllocatorForTensors();
  torch::set_num_threads(options.threads);
  torch::manual_seed(0);
  const torch::Device device(options.device);
  const int64_t b = options.batch, c = options.classes;
  torch::Tensor logits = torch::randn({b, c}, torch::kFloat).mul_(2.0);
  const torch::Tensor host_targets = torch::randint(0, c, {b}, torch::kLong);
  if (options.target_margin != 0) {
    logits.scatter_add_(1, host_targets.unsqueeze(1),
                        torch::full({b, 1}, options.target_margin, torch::kFloat));
  }
  logits = logits.to(device).requires_grad_(true);
  const torch::Tensor targets = host_targets.to(device);
  const torch::Tensor multi_targets = torch::rand({b, c}).lt(0.05).to(device, torch::kFloat);

  std::vector<Case> cases;
  auto add = [&](std::string group, std::string name, std::function<torch::Tensor()> run,
                 bool baseline = false) {
    if (!baseline && !options.filter.empty() && name.find(options.filter) == std::string::npos) {
      return;
    }
    cases.push_back(Case{std::move(group), std::move(name), baseline, std::move(run), {}});
  };
  // Ops are built once, as a trainer does, and only called in the loop.
  auto fused = [&](std::string group, std::string name, LossConfig config, const torch::Tensor& y) {
    auto op = std::make_shared<loss::PolyLoss>(std::move(config), options.path);
    add(std::move(group), "fused " + name, [op, &logits, y] { return (*op)(logits, y); });
  };
  auto naive = [&](std::string group, std::string name, LossConfig config, const torch::Tensor& y) {
    if (!options.naive) return;
    add(std::move(group), "naive " + name,
        [config, &logits, y] { return loss::NaivePolyLoss(config, logits, y); });
  };

  add(
      "softmax", "torch cross_entropy",
      [&] { return torch::nn::functional::cross_entropy(logits, targets); }, true);
  fused("softmax", "cross_entropy", Softmax(PolySeries{}), targets);
  fused("softmax", "poly1 e=2", Softmax(PolyN(1)), targets);
  fused("softmax", "poly_n N=10", Softmax(PolyN(10)), targets);
  fused("softmax", "poly_n N=100", Softmax(PolyN(100)), targets);
  fused("softmax", "poly_n N=1000", Softmax(PolyN(1000)), targets);
  fused("softmax", "focal g=2", Softmax(Focal(2.0)), targets);
  fused("softmax", "poly_focal g=2 N=1", Softmax(PolyN(1, 2.0)), targets);
  fused("softmax", "poly1 e=-1", Softmax(Poly1Cancelling()), targets);
  naive("softmax", "poly1 e=2", Softmax(PolyN(1)), targets);
  naive("softmax", "poly_n N=10", Softmax(PolyN(10)), targets);
  naive("softmax", "poly_n N=100", Softmax(PolyN(100)), targets);
  naive("softmax", "poly_n N=1000", Softmax(PolyN(1000)), targets);
  naive("softmax", "poly_focal g=2 N=1", Softmax(PolyN(1, 2.0)), targets);

  add(
      "softmax+ls", "torch cross_entropy ls=0.1",
      [&] {
        return torch::nn::functional::cross_entropy(
            logits, targets, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.1));
      },
      true);
  fused("softmax+ls", "poly1 e=2 ls=0.1", Softmax(PolyN(1), 0.1), targets);
  naive("softmax+ls", "poly1 e=2 ls=0.1", Softmax(PolyN(1), 0.1), targets);

  if (options.sigmoid) {
    add(
        "sigmoid", "torch bce_with_logits",
        [&] { return torch::binary_cross_entropy_with_logits(logits, multi_targets); }, true);
    fused("sigmoid", "sigmoid poly1 e=2", Sigmoid(PolyN(1), std::nullopt), multi_targets);
    fused("sigmoid", "sigmoid focal g=2 a=0.25", Sigmoid(Focal(2.0), 0.25), multi_targets);
    fused("sigmoid", "sigmoid poly1 e=-1", Sigmoid(Poly1Cancelling(), std::nullopt), multi_targets);
    naive("sigmoid", "sigmoid poly1 e=2", Sigmoid(PolyN(1), std::nullopt), multi_targets);
    naive("sigmoid", "sigmoid focal g=2 a=0.25", Sigmoid(Focal(2.0), 0.25), multi_targets);
  }

  if (std::all_of(cases.begin(), cases.end(), [](const Case& c) { return c.baseline; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--filter: no case compared with a baseline has a name containing '", options.filter,
        "' (names such as 'fused poly1 e=2', 'naive poly_n N=100', 'fused sigmoid focal g=2 "
        "a=0.25'; the torch baselines always run",
        options.naive ? "" : "; --no-naive drops the naive cases",
        options.sigmoid ? "" : "; --no-sigmoid drops the sigmoid cases", ")"));
  }
  for (int round = 0; round < options.warmup + options.rounds; ++round) {
    for (Case& item : cases) {
      logits.mutable_grad().reset();
      if (device.is_cuda()) torch::cuda::synchronize();
      const auto start = std::chrono::steady_clock::now();
      item.run().backward();
      if (device.is_cuda()) torch::cuda::synchronize();  // the time the kernels took, not queued
      const auto stop = std::chrono::steady_clock::now();
      if (round >= options.warmup) {
        item.times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
      }
    }
  }

  std::vector<LossBenchRow> rows;
  std::map<std::string, double> baseline;
  for (const Case& item : cases) {
    if (item.baseline) baseline[item.group] = Median(item.times_ms);
  }
  for (const Case& item : cases) {
    const double median = Median(item.times_ms);
    rows.push_back(LossBenchRow{item.group, item.name, median,
                                *std::min_element(item.times_ms.begin(), item.times_ms.end()),
                                median / baseline[item.group]});
  }
  return rows;
}

std::string FormatLossBench(const LossBenchOptions& options,
                            const std::vector<LossBenchRow>& rows) {
  std::ostringstream out;
  const char* path = options.path == KernelPath::kHost     ? "host"
                     : options.path == KernelPath::kDevice ? "device"
                                                           : "auto";
  out << "polyloss bench: forward+backward, float32 logits [" << options.batch << ", "
      << options.classes << "] on " << options.device << ", fused series path " << path << ", "
      << options.threads << " thread(s), " << options.warmup << " warm-up + " << options.rounds
      << " timed rounds (cases interleaved)\n";
  if (options.target_margin != 0) {
    out << "target logits raised by " << options.target_margin << " (confident rows)\n";
  }
  out << "allocator: " << TuneAllocatorForTensors() << "\n";
  out << "ratio = median / the group's torch baseline median, measured in this run\n\n";
  char line[160];
  std::snprintf(line, sizeof(line), "%-11s %-34s %10s %10s %8s\n", "group", "case", "median ms",
                "min ms", "ratio");
  out << line;
  for (const LossBenchRow& row : rows) {
    std::snprintf(line, sizeof(line), "%-11s %-34s %10.3f %10.3f %7.2fx\n", row.group.c_str(),
                  row.name.c_str(), row.median_ms, row.min_ms, row.ratio);
    out << line;
  }
  return out.str();
}

}  // namespace polytrain::loss
