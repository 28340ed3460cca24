// Checkpoints of a training run: model, optimizer, the position in the run (step, epoch, batch
// within the epoch) and LibTorch's CPU RNG state (dropout), so a resumed run continues exactly
// where the checkpoint was taken. Files are written to a temporary name and renamed, so a
// checkpoint on disk is never half-written.
#ifndef POLYTRAIN_WORKER_CHECKPOINT_H_
#define POLYTRAIN_WORKER_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polytrain {

struct RunPosition {
  int64_t step = 0;            // optimizer steps completed
  int64_t epoch = 0;           // epoch in progress
  int64_t batch_in_epoch = 0;  // batches of that epoch already trained
};

// Writes <dir>/ckpt-<step, 12 digits>.pt and deletes the oldest beyond `keep_last`.
absl::StatusOr<std::string> SaveCheckpoint(const std::string& dir, torch::nn::Module& model,
                                           torch::optim::Optimizer& optimizer,
                                           const RunPosition& position, int keep_last);

// The newest checkpoint in `dir`, or nullopt when there is none (or no such directory).
std::optional<std::string> LatestCheckpoint(const std::string& dir);

// Restores model, optimizer and RNG state; returns the position. INVALID_ARGUMENT when the file
// is not a checkpoint of this model.
absl::StatusOr<RunPosition> LoadCheckpoint(const std::string& path, torch::nn::Module& model,
                                           torch::optim::Optimizer& optimizer);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHECKPOINT_H_
