// Gradient norms that stay on the gradients' device (no host read, so a GPU step need not wait).
#ifndef POLYTRAIN_WORKER_GRADIENT_NORM_H_
#define POLYTRAIN_WORKER_GRADIENT_NORM_H_

#include <torch/torch.h>

#include <vector>

namespace polytrain {

// torch::nn::utils::clip_grad_norm_ (2-norm) without its final read of the norm back to the
// host: the same operations, so the same numbers. Returns the total norm as a 0-dim tensor on
// the gradients' device.
torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& parameters, double max_norm);

// The 2-norm of all gradients together (float64), on their device.
torch::Tensor GradNorm(const std::vector<torch::Tensor>& parameters);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GRADIENT_NORM_H_
