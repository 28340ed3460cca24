#include "worker/gradient_norm.h"

namespace polytrain {

torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().data().norm(2));
  }
  if (norms.empty()) return torch::zeros({});
  const torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  const torch::Tensor coef = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
  for (const torch::Tensor& p : parameters) {
    if (p.grad().defined()) p.grad().data().mul_(coef);
  }
  return total;
}

torch::Tensor GradNorm(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> squares;
  for (const torch::Tensor& p : parameters) {
    if (p.grad().defined()) squares.push_back(p.grad().pow(2).sum().to(torch::kDouble));
  }
  if (squares.empty()) return torch::zeros({}, torch::kDouble);
  return torch::stack(squares).sum().sqrt();
}

}  // namespace polytrain
