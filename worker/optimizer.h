// The optimizer a JobSpec names, and the learning rate set on it at every step.
#ifndef POLYTRAIN_WORKER_OPTIMIZER_H_
#define POLYTRAIN_WORKER_OPTIMIZER_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "polytrain/v1/job.pb.h"

namespace polytrain {

// SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight decay) or AdamW (decoupled
// decay) over `parameters`. The spec must be valid.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const polytrain::v1::OptimizerSpec& spec,
                                                       std::vector<torch::Tensor> parameters);

void SetLearningRate(torch::optim::Optimizer& optimizer, double learning_rate);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_OPTIMIZER_H_
