// Checkpoints of a training run: model, optimizer, the position in the run (step, epoch, batch
// within the epoch) and LibTorch's random state (dropout): the CPU's, and on a CUDA device that
// device's too, so a resumed run continues exactly where the checkpoint was taken. Files are
// written to a temporary name and renamed, so a checkpoint on disk is never half-written, and each
// has its size and CRC-32 recorded beside it
// (<file>.crc32), so one damaged later is caught before it is loaded.
#ifndef POLYTRAIN_WORKER_CHECKPOINT_H_
#define POLYTRAIN_WORKER_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/file_checksum.h"
#include "polytrain/v1/job.pb.h"
#include "worker/trainable_model.h"

namespace polytrain {

struct RunPosition {
  int64_t step = 0;            // optimizer steps completed
  int64_t epoch = 0;           // epoch in progress
  int64_t batch_in_epoch = 0;  // batches of that epoch already trained

  // The epoch the last completed step belongs to, as every output numbers it: at an epoch's
  // end, the epoch that ended (`epoch` has moved on to the next).
  int64_t EpochOfLastStep() const { return batch_in_epoch == 0 && epoch > 0 ? epoch - 1 : epoch; }
};

// What a checkpoint holds besides the position: `device` is where the job trains.
struct TrainingState {
  TrainableModel& model;
  torch::optim::Optimizer& optimizer;
  torch::Device device;
  // The run's spec: a checkpoint records what shapes the training (model, data, loss,
  // optimizer, schedule, batch, seed, replicas, precision), and one of a run that differs in
  // any of these is refused naming the field. Null: nothing recorded or checked.
  const polytrain::v1::JobSpec* spec = nullptr;
  // The training split's rows: recorded, and a checkpoint written for another number refused
  // (the data changed under the same spec; its epochs and order would not be this run's).
  // 0: nothing recorded or checked.
  int64_t train_rows = 0;
};

// Writes <dir>/ckpt-<step, 12 digits>.pt and deletes the oldest beyond `keep_last` but
// `also_kept` (a file name, "" none: the run's best).
absl::StatusOr<std::string> SaveCheckpoint(const std::string& dir, const TrainingState& state,
                                           const RunPosition& position, int keep_last,
                                           const std::string& also_kept = "");

// Restores model, optimizer and RNG state onto the state's device; returns the position. A CUDA
// device's random state is restored when the checkpoint has one and the job is on CUDA (a job
// moved between CPU and GPU continues, not bit for bit). INVALID_ARGUMENT when the file is not a
// checkpoint of this model. Does not check the recorded checksum.
absl::StatusOr<RunPosition> LoadCheckpoint(const std::string& path, const TrainingState& state);

// Records the size and CRC-32 of the checkpoint at `path` (for one that arrived another way,
// e.g. downloaded from the coordinator).
absl::Status RecordCheckpointChecksum(const std::string& path, const FileChecksum& checksum);

// Restores the newest checkpoint in `dir` that matches its record. Damaged ones (or ones with
// no record) are renamed to <file>.corrupt and described in `passed_over`. nullopt when none
// is left; INVALID_ARGUMENT when an intact one is not a checkpoint of this model.
absl::StatusOr<std::optional<RunPosition>> RestoreNewestIntactCheckpoint(
    const std::string& dir, const TrainingState& state, std::vector<std::string>* passed_over);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHECKPOINT_H_
