// The trainer: owns one job's model and its data shard and runs the training loop. The same
// code runs a standalone `polytrain-worker --spec` and the jobs the coordinator assigns
// (service_job.h); "a trainer owns a model and a data shard" is the seam data-parallel training
// will extend.
#ifndef POLYTRAIN_WORKER_TRAINER_H_
#define POLYTRAIN_WORKER_TRAINER_H_

#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loss/torch/poly_loss.h"
#include "polytrain/v1/job.pb.h"
#include "polytrain/v1/job_record.pb.h"
#include "worker/checkpoint.h"
#include "worker/data_root.h"
#include "worker/dataset.h"
#include "worker/metric_sink.h"
#include "worker/replica_group.h"
#include "worker/trainable_model.h"
#include "worker/training_window.h"

namespace polytrain {

struct TrainerOptions {
  std::string data_root = kDefaultDataRoot;
  // The artifacts the job names, fetched and checked (id -> local file); the service fills it.
  std::map<std::string, std::string> artifact_files;
  // Where checkpoints go; empty: none are written.
  std::string checkpoint_dir;
  // Continue from the newest checkpoint in checkpoint_dir (a fresh start when there is none).
  bool resume = false;
  // A checkpoint that cannot be written (a full disk) is told in
  // TrainingSummary::checkpoint_failures and the run goes on, instead of failing it: for
  // checkpoints nobody asked to keep (a service worker without --checkpoint_dir).
  bool checkpoints_best_effort = false;
  // Keeps spec.checkpoint.keep_best_by's best checkpoint in checkpoint_dir beside the keep_last
  // newest (BestCheckpointKeeper): a standalone run's; a service job's best is its coordinator's.
  bool keep_best_checkpoint = false;
  // Receives every metric point; may be null.
  MetricSink* sink = nullptr;
  // Stop after this many steps as if interrupted (no final evaluation); 0: run to the end.
  // What a preempted worker does; tests use it to check that resuming is exact.
  int64_t stop_after_steps = 0;
  // A search trial's segment (Job.search): train until this many epochs (pause_at_epoch) or
  // steps (pause_at_step) are done, evaluate and checkpoint as at the end, and stop with
  // TrainingSummary::paused. 0, or at or past the end of the spec: run to the end.
  int32_t pause_at_epoch = 0;
  int64_t pause_at_step = 0;
  // Checked before every step; set by the service to cancel a job within one step.
  const std::atomic<bool>* cancel = nullptr;
  // Set by the service when its worker drains (SIGTERM): the run trains on to the end of its
  // logging window (at most log_every_steps - 1 more steps), writes a checkpoint there and stops
  // with TrainingSummary::released, so that the next attempt resumes from that step with the
  // same history as an uninterrupted run. A run that writes no checkpoints, or one rank of a
  // gang, stops before its next step instead (CANCELLED).
  const std::atomic<bool>* release = nullptr;
  // Called with each checkpoint's path right after it is written (the service uploads it).
  std::function<void(const std::string& path)> on_checkpoint;
  // Called once the run knows where it starts, before its first metric point: the step of the
  // checkpoint it resumed from, 0 from scratch.
  std::function<void(int64_t resumed_from_step)> on_start;
  // The most threads the job may compute with (compute_threads.h): spec.threads above it is
  // lowered to it. 0: the machine's cores.
  int max_threads = 0;
  // The GPU a CUDA job (DEVICE_CUDA, or DEVICE_ANY where there is one) runs on.
  int cuda_device = 0;
  // A data-parallel attempt: this replica's gang, joined (ReplicaGroup::Join). The trainer then
  // trains on its rank's rows of each global batch and sums gradients across ranks every step;
  // rank 0 alone evaluates, writes checkpoints and emits metric points. Null: one replica.
  ReplicaGroup* replicas = nullptr;
  // Data-parallel attempts, on every rank at each logging point: the window's mean seconds per
  // step, of which in the gradient all-reduce, and this rank's samples/s.
  std::function<void(double step_seconds, double allreduce_seconds, double samples_per_second)>
      on_replica_window;
};

struct TrainingSummary {
  int64_t steps = 0;
  int64_t total_steps = 0;
  int64_t epochs_completed = 0;
  bool stopped_early = false;  // stop_after_steps reached
  bool paused = false;         // a search trial's segment ended before the end of the spec
  bool released = false;       // stopped for TrainerOptions::release, checkpointed at `steps`
  // Released, but its checkpoint at `steps` could not be written (checkpoint_failures says why).
  bool release_checkpoint_failed = false;
  bool resumed = false;
  int64_t resumed_from_step = 0;  // the checkpoint's step when resumed
  // Checkpoints skipped on resume because they did not match their recorded checksum.
  std::vector<std::string> passed_over_checkpoints;
  // With checkpoints_best_effort: why checkpoints were not written.
  std::vector<std::string> checkpoint_failures;
  double seconds = 0.0;
  double samples_per_second = 0.0;              // training steps only, evaluations excluded
  int64_t trained_samples = 0;                  // this replica's rows over the steps it ran
  std::map<std::string, double> final_metrics;  // the last evaluation
  int64_t final_metrics_step = 0;               // the step it evaluated
  std::string last_checkpoint;
  // With keep_best_checkpoint: the best checkpoint so far (its path in checkpoint_dir, as
  // last_checkpoint's); empty when none was scored.
  polytrain::v1::BestCheckpoint best_checkpoint;
};

class Trainer {
 public:
  // Validates the spec, confines its data paths to the data root, loads the data and builds
  // the model, loss and optimizer. Nothing is written yet.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const polytrain::v1::JobSpec& spec,
                                                         TrainerOptions options);

  // Trains to the end (or to stop_after_steps). Resumes from the newest intact checkpoint
  // (damaged ones are passed over); INVALID_ARGUMENT when that is not of this model, ABORTED when
  // the loss stops being finite, CANCELLED on cancel, INTERNAL for an error inside LibTorch.
  absl::StatusOr<TrainingSummary> Run();

  // Where metric points go from now on (replaces TrainerOptions::sink); may be null.
  void set_sink(MetricSink* sink) { options_.sink = sink; }

  TrainableModel& model() { return *model_; }
  const Dataset& data() const { return data_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // The optimizer steps taken so far, a resumed run's earlier ones included: after a Run that
  // failed (a diverged loss, a model's error), how far it trained, logged or not.
  int64_t steps_run() const { return steps_run_; }
  // Where it trains (the CPU, or its GPU).
  const torch::Device& device() const { return device_; }
  // "mlp hidden [256, 256] (269322 parameters); fashion_mnist: ...; loss poly1(e=2)".
  std::string Describe() const;

 private:
  Trainer(polytrain::v1::JobSpec spec, TrainerOptions options, Dataset data,
          std::unique_ptr<TrainableModel> model, loss::LossConfig loss_config,
          torch::Device device);

  absl::StatusOr<TrainingSummary> RunLoop();
  std::map<std::string, double> EvaluateAll();
  void EmitEval(const RunPosition& position, double elapsed,
                const std::map<std::string, double>& values);
  // The training metric point of a logging window that ended at `position` (in `epoch`).
  void EmitTrain(const RunPosition& position, int64_t epoch, double epoch_progress, double elapsed,
                 double learning_rate, double grad_norm, const WindowTotals& totals);

  polytrain::v1::JobSpec spec_;
  TrainerOptions options_;
  Dataset data_;
  std::unique_ptr<TrainableModel> model_;
  loss::PolyLoss loss_;
  loss::PolyLoss per_sample_loss_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  torch::Device device_;
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;
  int64_t steps_run_ = 0;
  std::string threads_description_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_TRAINER_H_
