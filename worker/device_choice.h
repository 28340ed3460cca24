// Where jobs train: the GPUs a worker offers, and each job's device against the GPUs LibTorch
// sees.
#ifndef POLYTRAIN_WORKER_DEVICE_CHOICE_H_
#define POLYTRAIN_WORKER_DEVICE_CHOICE_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// `gpu`: the worker's GPU for this job. A GPU that is gone (or never was) fails a CUDA job here
// with the reason (FAILED_PRECONDITION naming spec.device), before anything is allocated on it.
absl::StatusOr<torch::Device> ChooseDevice(const polytrain::v1::JobSpec& spec, int gpu);

// The GPUs a worker offers: those `listed` (--gpus "0,2"), or with none listed every one LibTorch
// sees. FAILED_PRECONDITION when there is none, or a listed one is not there.
absl::StatusOr<std::vector<int>> OfferedGpus(const std::string& listed);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_DEVICE_CHOICE_H_
