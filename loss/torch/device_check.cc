// polyloss_device_check: the fused op on every available device (CPU, and CUDA when LibTorch
// sees a GPU) against the naive composition in float64 on the CPU, in float64, float32 and
// bfloat16 (and float16 on CUDA; both computed in float32 and checked against the reference on
// the same rounded logits). POLYTRAIN_LOSS_PATH=device runs the device kernels on the CPU too.
// Needs only LibTorch, so it builds on a GPU machine that has pip's LibTorch and nothing else:
//   scripts/build-torch-only.sh && build-torch-only/loss/polyloss_device_check
// Prints one line per case and exits non-zero when any differs beyond its tolerance.
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "loss/core/loss_config.h"
#include "loss/torch/poly_loss.h"

namespace polytrain::loss {
namespace {

struct NamedConfig {
  std::string name;
  LossConfig config;
};

std::vector<NamedConfig> Configs() {
  std::vector<NamedConfig> out;
  auto add = [&](std::string name, double gamma, std::vector<double> extra, bool tail,
                 Activation activation, double smoothing) {
    LossConfig c;
    c.series.gamma = gamma;
    c.series.extra = std::move(extra);
    c.series.ce_tail = tail;
    c.activation = activation;
    c.label_smoothing = smoothing;
    if (activation == Activation::kSigmoid) c.alpha = 0.25;
    c.ignore_index = -1;
    out.push_back({std::move(name), std::move(c)});
  };
  std::vector<double> eps1000(1000);
  for (int j = 1; j <= 1000; ++j) eps1000[j - 1] = 0.5 / j;
  add("softmax poly1", 0, {2.0}, true, Activation::kSoftmax, 0);
  add("softmax poly_n N=1000 ls=0.1", 0, eps1000, true, Activation::kSoftmax, 0.1);
  add("softmax poly_focal g=0.5", 0.5, {1.0, -0.2}, true, Activation::kSoftmax, 0);
  add("softmax drop n=3", 0, {1.0, 0.5, 1.0 / 3}, false, Activation::kSoftmax, 0);
  add("sigmoid focal g=2", 2, {}, true, Activation::kSigmoid, 0);
  add("sigmoid poly1 ls=0.1", 0, {1.0}, true, Activation::kSigmoid, 0.1);
  return out;
}

double MaxRelative(const torch::Tensor& got, const torch::Tensor& want) {
  const double scale = std::max(1e-300, want.abs().max().item<double>());
  return (got.to(torch::kCPU, torch::kDouble) - want).abs().max().item<double>() / scale;
}

int Main() {
  std::vector<torch::Device> devices = {torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA, 0);
  std::printf("devices: cpu%s\n", devices.size() > 1 ? ", cuda:0" : " (no CUDA device seen)");
  int failures = 0, checked = 0;
  torch::manual_seed(0);
  for (const NamedConfig& named : Configs()) {
    const bool sigmoid = named.config.activation == Activation::kSigmoid;
    const torch::Tensor logits = torch::randn({64, 10}, torch::kDouble) * 3;
    torch::Tensor targets = sigmoid ? torch::rand({64, 10}).lt(0.3).to(torch::kDouble)
                                    : torch::randint(0, 10, {64}, torch::kLong);
    if (sigmoid) {
      targets[0][0] = -1;
    } else {
      targets[0] = -1;
    }
    const PolyLoss op(named.config);
    for (const torch::Device& device : devices) {
      std::vector<torch::ScalarType> dtypes = {torch::kDouble, torch::kFloat, torch::kBFloat16};
      if (device.is_cuda()) dtypes.push_back(torch::kHalf);
      for (auto dtype : dtypes) {
        // The reference sees the logits as rounded to this dtype.
        const torch::Tensor rounded = logits.to(dtype).to(torch::kDouble);
        torch::Tensor z_ref = rounded.clone().requires_grad_(true);
        NaivePolyLoss(named.config, z_ref, targets).backward();
        const torch::Tensor want_loss = NaivePolyLoss(named.config, rounded, targets);
        torch::Tensor z = logits.to(device, dtype).detach().requires_grad_(true);
        const torch::Tensor loss = op(z, sigmoid ? targets.to(device, dtype) : targets.to(device));
        loss.backward();
        // The result's own rounding: float64, float32, then 8 and 11 significant bits.
        const double tol = dtype == torch::kDouble  ? 1e-10
                           : dtype == torch::kFloat ? 1e-4
                           : dtype == torch::kHalf  ? 2e-3
                                                    : 1.6e-2;
        const double loss_err = MaxRelative(loss.detach(), want_loss);
        const double grad_err = MaxRelative(z.grad(), z_ref.grad());
        const bool ok = loss_err <= tol && grad_err <= tol && loss.device() == device &&
                        z.grad().device() == device && loss.scalar_type() == dtype &&
                        z.grad().scalar_type() == dtype;
        failures += ok ? 0 : 1;
        ++checked;
        std::printf("%-4s %-30s %-6s %-8s %-6s loss rel err %.2e  grad rel err %.2e\n",
                    ok ? "ok" : "FAIL", named.name.c_str(), device.str().c_str(),
                    c10::toString(dtype), op.RunsOnDevice(z) ? "device" : "host", loss_err,
                    grad_err);
      }
    }
  }
  std::printf("%d passed, %d failed\n", checked - failures, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace polytrain::loss

int main() { return polytrain::loss::Main(); }
