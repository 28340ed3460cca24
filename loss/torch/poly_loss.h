// PolyLoss as a LibTorch op with a hand-written backward, fused: one pass over the logits
// forward and one backward for every member of the family, whatever N and gamma are.
//
// Why one pass suffices: a loss that depends on the logits only through pt (and the CE term)
// has the gradient of cross-entropy scaled by one number per sample. Forward computes
// log-softmax once, evaluates the per-sample series (Horner, K multiply-adds per sample) and keeps
// the per-sample factors; backward is a single log-softmax backward with a per-sample weighted
// target. Sigmoid losses are elementwise and keep their gradient from the forward pass.
//
// Errors (bad shapes, dtypes, targets out of range, weight count) are thrown as c10::Error, as
// every LibTorch op does; the trainer and tools catch them at their boundary.
#ifndef POLYTRAIN_LOSS_TORCH_POLY_LOSS_H_
#define POLYTRAIN_LOSS_TORCH_POLY_LOSS_H_

#include <torch/torch.h>

#include <memory>

#include "loss/core/loss_config.h"

namespace polytrain::loss {

namespace internal {
struct PreparedLoss;
}  // namespace internal

// Where the per-sample series runs.
//   kHost: on the CPU in float64, after a copy of one value per row (softmax) or element
//     (sigmoid); the fastest on CPU tensors, exact to float64 rounding.
//   kDevice: as tensor ops on the logits' device (float32, or float64 for float64 logits), with
//     no copy to the host and no read of a device value: a GPU's queue never waits for the loss.
//     Targets out of range are caught by an asynchronous device assert, as torch's own losses do
//     on CUDA, so the error names no row.
//   kAuto: kHost for CPU tensors, kDevice for others. The environment variable
//     POLYTRAIN_LOSS_PATH=host|device overrides kAuto everywhere (CI runs the device path on
//     CPU tensors with it, against the same float64 references).
enum class KernelPath { kAuto, kHost, kDevice };

class PolyLoss {
 public:
  // `config` must come from ToLossConfig (validated); the constructor does no validation.
  explicit PolyLoss(LossConfig config, KernelPath path = KernelPath::kAuto);

  // Softmax: logits [B, C], targets int64 [B] class indices (or ignore_index).
  // Sigmoid: logits [B, C], targets of the same shape with values in [0, 1] (or ignore_index).
  // Logits float32, float64, float16 or bfloat16 (the last two computed in float32). Returns a
  // 0-dim loss (mean, sum) or per-sample losses ([B] softmax, [B, C] sigmoid), in the logits'
  // dtype and device, differentiable with respect to the logits.
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& targets) const;

  const LossConfig& config() const;
  // Whether these logits would take the device path.
  bool RunsOnDevice(const torch::Tensor& logits) const;

 private:
  std::shared_ptr<const internal::PreparedLoss> prepared_;
  KernelPath path_;
};

// The same loss composed of separate autograd ops, term by term, the way public
// implementations write it: the reference the fused op is tested against, and the baseline of
// `polyloss bench`. Slow for large N by construction.
torch::Tensor NaivePolyLoss(const LossConfig& config, const torch::Tensor& logits,
                            const torch::Tensor& targets);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_TORCH_POLY_LOSS_H_
