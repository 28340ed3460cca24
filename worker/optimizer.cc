#include "worker/optimizer.h"

namespace polytrain {

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const polytrain::v1::OptimizerSpec& spec,
                                                       std::vector<torch::Tensor> parameters) {
  const double lr = spec.learning_rate();
  auto adam_betas = [](const polytrain::v1::Adam& adam) {
    return std::make_tuple(adam.has_beta1() ? adam.beta1() : 0.9,
                           adam.has_beta2() ? adam.beta2() : 0.999);
  };
  auto adam_eps = [](const polytrain::v1::Adam& adam) {
    return adam.eps() == 0.0 ? 1e-8 : adam.eps();
  };
  switch (spec.kind_case()) {
    case polytrain::v1::OptimizerSpec::kAdam:
      return std::make_unique<torch::optim::Adam>(std::move(parameters),
                                                  torch::optim::AdamOptions(lr)
                                                      .betas(adam_betas(spec.adam()))
                                                      .eps(adam_eps(spec.adam()))
                                                      .weight_decay(spec.weight_decay()));
    case polytrain::v1::OptimizerSpec::kAdamw:
      return std::make_unique<torch::optim::AdamW>(std::move(parameters),
                                                   torch::optim::AdamWOptions(lr)
                                                       .betas(adam_betas(spec.adamw()))
                                                       .eps(adam_eps(spec.adamw()))
                                                       .weight_decay(spec.weight_decay()));
    case polytrain::v1::OptimizerSpec::kSgd:
    case polytrain::v1::OptimizerSpec::KIND_NOT_SET:
      break;
  }
  return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                             torch::optim::SGDOptions(lr)
                                                 .momentum(spec.sgd().momentum())
                                                 .nesterov(spec.sgd().nesterov())
                                                 .weight_decay(spec.weight_decay()));
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double learning_rate) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(learning_rate);
}

}  // namespace polytrain
