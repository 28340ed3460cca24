// A job's precision (JobSpec.precision) applied to the forward passes run in a scope: with BF16,
// LibTorch's autocast runs matrix products and convolutions on `device` in bfloat16 while the
// weights stay float32; with FP32 the scope does nothing. Autocast state is per thread, so each
// job's thread sets its own; the scope restores what was there before and drops autocast's
// cache of bfloat16 weight copies on leaving (the optimizer changes the weights after each step).
//
// The backward pass runs outside the scope, as LibTorch's autocast expects.
#ifndef POLYTRAIN_WORKER_AUTOCAST_SCOPE_H_
#define POLYTRAIN_WORKER_AUTOCAST_SCOPE_H_

#include <torch/torch.h>

#include <string>

#include "polytrain/v1/job.pb.h"

namespace polytrain {

class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, polytrain::v1::Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType type_ = torch::kCPU;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

// "fp32" or "bf16 autocast", for the job's description.
std::string PrecisionName(polytrain::v1::Precision precision);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_AUTOCAST_SCOPE_H_
