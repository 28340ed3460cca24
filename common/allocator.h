// Keeps large tensor buffers in the heap instead of fresh mmap/munmap pairs per allocation.
//
// glibc hands blocks above M_MMAP_THRESHOLD (128 KiB at first) to mmap and returns them to the
// kernel on free; a training or benchmark loop that allocates and frees such tensors then pays
// page faults every step (measured 5-15x slowdowns on our machines, see BENCHMARKS.md).
#ifndef POLYTRAIN_COMMON_ALLOCATOR_H_
#define POLYTRAIN_COMMON_ALLOCATOR_H_

#include <string>

namespace polytrain {

// Raises the mmap and trim thresholds once per process, unless the user set
// MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in the environment, or
// POLYTRAIN_MALLOC_TUNING=off (to measure the defaults). Returns a one-line
// description of the allocator settings in force, for logs and benchmark reports.
std::string TuneAllocatorForTensors();

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_ALLOCATOR_H_
