#include "worker/autocast_scope.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace polytrain {
namespace {

// LibTorch 2.x takes the device type; 1.13 (Debian's) has one function per device type.
bool AutocastEnabled(torch::DeviceType type) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType AutocastDtype(torch::DeviceType type) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                              : at::autocast::get_autocast_cpu_dtype();
#endif
}

void SetAutocast(torch::DeviceType type, bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastScope::AutocastScope(const torch::Device& device, polytrain::v1::Precision precision) {
  if (precision != polytrain::v1::PRECISION_BF16) return;
  active_ = true;
  type_ = device.type();
  was_enabled_ = AutocastEnabled(type_);
  previous_dtype_ = AutocastDtype(type_);
  SetAutocast(type_, true, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocast(type_, was_enabled_, previous_dtype_);
}

std::string PrecisionName(polytrain::v1::Precision precision) {
  return precision == polytrain::v1::PRECISION_BF16 ? "bf16 autocast" : "fp32";
}

}  // namespace polytrain
