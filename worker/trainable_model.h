// What the trainer needs of a model, whatever made it: a built-in architecture (model.h, a
// torch::nn::Sequential) or a TorchScript module of the user's (scripted_model.h). Training,
// evaluation and checkpoints go through this and nothing else.
#ifndef POLYTRAIN_WORKER_TRAINABLE_MODEL_H_
#define POLYTRAIN_WORKER_TRAINABLE_MODEL_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace polytrain {

class TrainableModel {
 public:
  virtual ~TrainableModel() = default;

  // A batch [B, sample_shape...] -> logits [B, classes].
  virtual torch::Tensor Forward(const torch::Tensor& batch) = 0;
  // The parameters the optimizer updates (those that require a gradient).
  virtual std::vector<torch::Tensor> Parameters() = 0;
  // Every parameter and buffer (BatchNorm statistics) by name, in a fixed order: what a
  // checkpoint holds and what "the same weights" compares.
  virtual std::vector<std::pair<std::string, torch::Tensor>> State() = 0;
  // Training mode (dropout on, BatchNorm statistics updated) or evaluation mode.
  virtual void SetTraining(bool training) = 0;
  virtual void To(const torch::Device& device) = 0;
  // Parameters and buffers into / from a checkpoint's archive. Load throws c10::Error when the
  // archive is not of this model.
  virtual void Save(torch::serialize::OutputArchive& archive) = 0;
  virtual void Load(torch::serialize::InputArchive& archive) = 0;
  // One line for the job's log, e.g. "mlp hidden [256, 256] (269322 parameters)".
  virtual std::string Describe() const = 0;
};

// A built-in architecture as a TrainableModel.
std::unique_ptr<TrainableModel> WrapSequential(torch::nn::Sequential model,
                                               std::string description);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_TRAINABLE_MODEL_H_
