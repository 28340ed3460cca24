#include "worker/gpu_memory.h"

#include <torch/version.h>

// LibTorch 2.9 and later answer allocator statistics for any device type through c10's
// DeviceAllocator, with no CUDA header needed (PyTorch's wheels do not ship the CUDA toolkit's
// headers those would include). Debian's 1.13 has no CUDA and no such interface.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#include <c10/core/CachingDeviceAllocator.h>
#define POLYTRAIN_DEVICE_ALLOCATOR_STATS 1
#endif

namespace polytrain {

// POLYTRAIN_TORCH_CUDA is set by worker/CMakeLists.txt when LibTorch comes with libc10_cuda.
bool BuiltWithCuda() {
#ifdef POLYTRAIN_TORCH_CUDA
  return true;
#else
  return false;
#endif
}

#if defined(POLYTRAIN_DEVICE_ALLOCATOR_STATS) && defined(POLYTRAIN_TORCH_CUDA)
std::optional<GpuMemory> ReadGpuMemory(const torch::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::getDeviceAllocator(c10::DeviceType::CUDA)->getDeviceStats(device.index());
  constexpr auto kAllPools = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  GpuMemory memory;
  memory.allocated_bytes = stats.allocated_bytes[kAllPools].current;
  memory.reserved_bytes = stats.reserved_bytes[kAllPools].current;
  memory.peak_allocated_bytes = stats.allocated_bytes[kAllPools].peak;
  return memory;
}

void ResetGpuMemoryPeak(const torch::Device& device) {
  if (device.is_cuda())
    c10::getDeviceAllocator(c10::DeviceType::CUDA)->resetPeakStats(device.index());
}
#else
std::optional<GpuMemory> ReadGpuMemory(const torch::Device&) { return std::nullopt; }

void ResetGpuMemoryPeak(const torch::Device&) {}
#endif

}  // namespace polytrain
