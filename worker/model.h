// The built-in classifiers a JobSpec can name (mlp, cnn, resnet), each one torch::nn::Sequential,
// trained as a TrainableModel (WrapSequential).
#ifndef POLYTRAIN_WORKER_MODEL_H_
#define POLYTRAIN_WORKER_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "polytrain/v1/job.pb.h"
#include "worker/trainable_model.h"

namespace polytrain {

// Input [B, sample_shape...] -> logits [B, classes]. Parameters are drawn from LibTorch's
// default generator: seed it first for a reproducible model. Convolutional models need image
// samples ({C, H, W}); an error names `path` otherwise.
absl::StatusOr<torch::nn::Sequential> BuildModel(const polytrain::v1::ModelSpec& spec,
                                                 const std::vector<int64_t>& sample_shape,
                                                 int64_t classes,
                                                 const std::string& path = "spec.model");

// One line, e.g. "mlp 784-256-256-10 (269,322 parameters)".
std::string DescribeModel(const polytrain::v1::ModelSpec& spec, torch::nn::Sequential& model);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_MODEL_H_
