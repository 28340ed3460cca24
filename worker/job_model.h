// A job's model on its training device, whatever made it: a built-in architecture (model.h) or
// the user's TorchScript module (scripted_model.h), as the trainer takes it (TrainableModel).
#ifndef POLYTRAIN_WORKER_JOB_MODEL_H_
#define POLYTRAIN_WORKER_JOB_MODEL_H_

#include <torch/torch.h>

#include <memory>

#include "absl/status/statusor.h"
#include "polytrain/v1/job.pb.h"
#include "worker/data_root.h"
#include "worker/dataset.h"
#include "worker/trainable_model.h"

namespace polytrain {

// The model `spec` names on `device`; a TorchScript module is checked against two of the
// training samples (errors name spec.model.torchscript).
absl::StatusOr<std::unique_ptr<TrainableModel>> MakeJobModel(const polytrain::v1::ModelSpec& spec,
                                                             const Dataset& data,
                                                             const JobFiles& files,
                                                             const torch::Device& device);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_JOB_MODEL_H_
