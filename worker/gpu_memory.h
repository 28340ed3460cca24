// The memory LibTorch's CUDA caching allocator holds on one GPU: what tensors use (allocated),
// what it has taken from the driver (reserved, what nvidia-smi shows) and the peak of allocated
// since the last reset. Built against a LibTorch without CUDA (Debian's), or older than 2.9,
// there is none to read.
#ifndef POLYTRAIN_WORKER_GPU_MEMORY_H_
#define POLYTRAIN_WORKER_GPU_MEMORY_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace polytrain {

struct GpuMemory {
  int64_t allocated_bytes = 0;
  int64_t reserved_bytes = 0;
  int64_t peak_allocated_bytes = 0;
};

// True when this build's LibTorch was built with CUDA (a GPU may still be absent).
bool BuiltWithCuda();

// nullopt for a device that is not a CUDA one, or without CUDA in this build.
std::optional<GpuMemory> ReadGpuMemory(const torch::Device& device);

// Starts a new peak on `device` (a CUDA device; nothing otherwise).
void ResetGpuMemoryPeak(const torch::Device& device);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GPU_MEMORY_H_
