#include "worker/device_choice.h"

#include "absl/strings/str_cat.h"
#include "worker/gpu_memory.h"
#include "worker/gpu_slots.h"

namespace polytrain {

using polytrain::v1::JobSpec;

absl::StatusOr<torch::Device> ChooseDevice(const JobSpec& spec, int gpu) {
  const int64_t visible = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  const bool cuda = gpu < visible;
  switch (spec.device()) {
    case polytrain::v1::DEVICE_CUDA:
      if (!cuda) {
        return absl::FailedPreconditionError(
            absl::StrCat("spec.device: DEVICE_CUDA requested but ",
                         visible == 0 ? std::string("LibTorch sees no CUDA device")
                                      : absl::StrCat("GPU ", gpu, " is not there (LibTorch sees ",
                                                     visible, " CUDA device(s))")));
      }
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu));
    case polytrain::v1::DEVICE_ANY:
      return cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(gpu))
                  : torch::Device(torch::kCPU);
    default:
      return torch::Device(torch::kCPU);
  }
}

absl::StatusOr<std::vector<int>> OfferedGpus(const std::string& listed) {
  std::vector<int> gpus;
  if (!listed.empty()) {
    absl::StatusOr<std::vector<int>> parsed = ParseGpuList(listed, "--gpus");
    if (!parsed.ok()) return parsed.status();
    gpus = *parsed;
  }
  const int64_t visible = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (visible == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        listed.empty() ? "--device cuda" : "--gpus", ": LibTorch sees no CUDA device",
        BuiltWithCuda() ? "" : " (this build's LibTorch has no CUDA: POLYTRAIN_TORCH=pip)"));
  }
  if (listed.empty()) {
    for (int gpu = 0; gpu < visible && gpu < kMaxGpusPerWorker; ++gpu) gpus.push_back(gpu);
  }
  for (int gpu : gpus) {
    if (gpu >= visible) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--gpus: GPU ", gpu, " is not there (LibTorch sees ", visible, " CUDA device(s))"));
    }
  }
  return gpus;
}

}  // namespace polytrain
