#include "worker/device_choice.h"

#include "absl/strings/str_cat.h"

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

}  // namespace polytrain
