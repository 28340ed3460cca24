#include "common/allocator.h"

#include <malloc.h>

#include <cstdlib>

namespace polytrain {
namespace {

// glibc caps the mmap threshold at 32 MiB on 64-bit (a larger value is refused); that still
// keeps a 4096 x 1000 float64 batch (31.25 MiB) in the heap.
constexpr int kMmapThresholdBytes = 32 << 20;
constexpr int kTrimThresholdBytes = 512 << 20;

}  // namespace

std::string TuneAllocatorForTensors() {
  static const std::string description = [] {
    const char* tuning = std::getenv("POLYTRAIN_MALLOC_TUNING");
    if (tuning != nullptr && std::string(tuning) == "off") {
      return std::string("glibc malloc, defaults (POLYTRAIN_MALLOC_TUNING=off)");
    }
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
        std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
      return std::string("glibc malloc, thresholds from the environment");
    }
    const bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes) == 1 &&
                    mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1;
    return ok ? std::string("glibc malloc, mmap threshold 32 MiB, trim threshold 512 MiB")
              : std::string("glibc malloc, defaults (mallopt refused)");
  }();
  return description;
}

}  // namespace polytrain
