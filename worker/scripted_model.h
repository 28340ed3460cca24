// A model of the user's own: a TorchScript module (JobSpec model.torchscript) loaded with
// LibTorch's torch::jit::load and trained as a TrainableModel. Everything that can be wrong with
// the file is found before training starts, on the first two training samples: not a TorchScript
// file (or a zip archive that would inflate without bound), no forward, nothing to train, a
// forward that throws or answers the wrong shape; every later forward is checked again.
//
// A TorchScript module is code: loading one runs nothing, but training runs its forward with
// the worker's rights. Workers for untrusted users belong in a sandbox (README, trust model).
#ifndef POLYTRAIN_WORKER_SCRIPTED_MODEL_H_
#define POLYTRAIN_WORKER_SCRIPTED_MODEL_H_

#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"
#include "polytrain/v1/job.pb.h"
#include "worker/data_root.h"
#include "worker/trainable_model.h"

namespace polytrain {

// Thrown by the loaded model's forward when, during training or evaluation, it answers what
// the probe did not show (a tuple, another shape, integers, an output cut from the graph): its
// message names the field, and the job fails with it as INVALID_ARGUMENT.
class ModelOutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the module spec names (through `files`), moves it to `device`, initialises it as
// spec.init says (from LibTorch's default generator: seed it first) and checks it against
// `probe` (a few training samples, on `device`): the output must be [probe rows, classes]
// logits. INVALID_ARGUMENT naming `field` (e.g. "spec.model.torchscript") otherwise, NOT_FOUND
// for a missing file.
absl::StatusOr<std::unique_ptr<TrainableModel>> LoadScriptedModel(
    const polytrain::v1::TorchScriptModel& spec, const JobFiles& files, const torch::Device& device,
    const torch::Tensor& probe, int64_t classes, const std::string& field);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_SCRIPTED_MODEL_H_
