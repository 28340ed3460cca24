// The GPUs a worker offers (polytrain-worker --gpus 0,1,...): one job at a time on each, so a
// job is pinned to the GPU it was given for its whole run. Torch-free: which GPU is free is
// bookkeeping; what is on it is read elsewhere (gpu_memory.h).
#ifndef POLYTRAIN_WORKER_GPU_SLOTS_H_
#define POLYTRAIN_WORKER_GPU_SLOTS_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// GPUs one worker may list.
inline constexpr int kMaxGpusPerWorker = 64;

// "0,2,3" -> {0, 2, 3}: device indices in [0, 1023], no repeats, 1 to kMaxGpusPerWorker of
// them. INVALID_ARGUMENT naming `flag` otherwise.
absl::StatusOr<std::vector<int>> ParseGpuList(absl::string_view text, absl::string_view flag);

class GpuSlots {
 public:
  explicit GpuSlots(std::vector<int> gpus) : gpus_(std::move(gpus)) {}

  const std::vector<int>& gpus() const { return gpus_; }

  // A free GPU for `job_id` (the lowest listed first); the one it has if it holds one already;
  // nullopt when every GPU is taken.
  std::optional<int> Acquire(const std::string& job_id);
  // Frees the GPU `job_id` holds, if any.
  void Release(const std::string& job_id);
  // The job on `gpu`, or "" when it is free.
  std::string JobOn(int gpu) const;

 private:
  const std::vector<int> gpus_;
  mutable std::mutex mu_;
  std::map<int, std::string> jobs_;  // gpu -> job id, under mu_
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GPU_SLOTS_H_
