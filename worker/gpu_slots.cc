#include "worker/gpu_slots.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/validation.h"

namespace polytrain {

absl::StatusOr<std::vector<int>> ParseGpuList(absl::string_view text, absl::string_view flag) {
  std::vector<int> gpus;
  std::set<int> seen;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    int gpu = -1;
    if (!absl::SimpleAtoi(item, &gpu) || gpu < 0 || gpu > 1023) {
      return InvalidField(flag, absl::StrCat("expected GPU indices in [0, 1023] separated by "
                                             "commas, got ",
                                             Quote(item)));
    }
    if (!seen.insert(gpu).second) {
      return InvalidField(flag, absl::StrCat("GPU ", gpu, " is listed twice"));
    }
    gpus.push_back(gpu);
  }
  if (static_cast<int>(gpus.size()) > kMaxGpusPerWorker) {
    return InvalidField(flag,
                        absl::StrCat("at most ", kMaxGpusPerWorker, " GPUs, got ", gpus.size()));
  }
  return gpus;
}

std::optional<int> GpuSlots::Acquire(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [gpu, job] : jobs_) {
    if (job == job_id) return gpu;
  }
  for (int gpu : gpus_) {
    if (jobs_.count(gpu) == 0) {
      jobs_[gpu] = job_id;
      return gpu;
    }
  }
  return std::nullopt;
}

void GpuSlots::Release(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (it->second == job_id) {
      jobs_.erase(it);
      return;
    }
  }
}

std::string GpuSlots::JobOn(int gpu) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(gpu);
  return it == jobs_.end() ? "" : it->second;
}

}  // namespace polytrain
