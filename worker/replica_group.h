// The ranks of one data-parallel attempt (JobSpec.replicas > 1), joined through LibTorch's c10d
// (worker/gang_connection.h: rank 0 serves a TCPStore for the rendezvous, every rank builds a
// process group through it, NCCL for CUDA tensors where LibTorch has it, Gloo otherwise, in a
// process of its own where options.process_binary says), and the trainer sums its gradients
// across ranks every step.
//
// A collective that fails (a peer's socket closed because its process died, or a peer silent
// past the timeout) comes back as UNAVAILABLE: the gang is lost, and the service reports the
// attempt as such so that the coordinator requeues the whole gang.
#ifndef POLYTRAIN_WORKER_REPLICA_GROUP_H_
#define POLYTRAIN_WORKER_REPLICA_GROUP_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/gang_connection.h"
#include "worker/gang_options.h"

namespace polytrain {

class ReplicaGroup {
 public:
  static constexpr int64_t kBucketBytes = GangOptions::kBucketBytes;
  using Options = GangOptions;

  // Call once before any group is opened: turns off the c10d flight recorder (PyTorch 2.x
  // records every collective in one process-wide buffer, and two gangs' ranks in one process, a
  // worker with two slots, raced on it and crashed). TORCH_FR_BUFFER_SIZE set by the user wins.
  static void DisableFlightRecorder();

  // Rank 0 opens its store on a port the system picks (rendezvous() says where); the others
  // only check their options. Returns once the connection's process (if any) has started.
  static absl::StatusOr<std::unique_ptr<ReplicaGroup>> Open(Options options);
  ~ReplicaGroup();
  ReplicaGroup(const ReplicaGroup&) = delete;
  ReplicaGroup& operator=(const ReplicaGroup&) = delete;

  // Where rank 0's store listens, "host:port".
  const std::string& rendezvous() const { return connection_->rendezvous(); }
  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // Ranks > 0 connect to rank 0's store; every rank then waits until all have, and builds the
  // process group for tensors on `device`. UNAVAILABLE, saying which rendezvous could not be
  // reached or which ranks did not come, after the timeout; at once when rank 0's store goes
  // away. CANCELLED when options.cancel is set meanwhile.
  absl::Status Join(const torch::Device& device = torch::kCPU);
  // "gloo" or "nccl" once joined.
  const char* backend() const { return connection_->backend(); }
  // Whether its connections run in a process of their own (options.process_binary).
  bool in_own_process() const { return connection_->in_own_process(); }
  // Whether this build can join CUDA gangs through NCCL (PyTorch's CUDA LibTorch).
  static bool NcclAvailable();

  // Every rank checks that it starts at rank 0's `step` (all fail alike, FAILED_PRECONDITION,
  // when any does not: their checkpoints differ), then takes rank 0's values of `state` (the
  // model's parameters and buffers) whatever its own initialization did.
  absl::Status StartTogether(int64_t step, const std::vector<torch::Tensor>& state);

  // Gradient all-reduce overlapped with backward, as DistributedDataParallel does it: once,
  // AttachTo the parameters (hooks on their gradient accumulators launch each bucket's
  // all-reduce as soon as backward has finished its gradients, buckets in one fixed order on
  // every rank); then each step BeginStep before backward and FinishStep after it. FinishStep
  // replaces every parameter's gradient by the sum over ranks of `weight` times it (a rank's
  // weight is its share of the global batch, so the sum is the whole batch's gradient); a
  // parameter backward did not reach counts as zeros. `extra`, a 0-dim tensor (the step's loss
  // times the same weight), rides in the first bucket; FinishStep returns its sum over ranks.
  absl::Status AttachTo(const std::vector<torch::Tensor>& parameters);
  void BeginStep(double weight, const torch::Tensor& extra);
  absl::StatusOr<torch::Tensor> FinishStep();
  // Buckets, and how many were launched from inside backward so far (the overlap).
  size_t buckets() const;
  int64_t buckets_launched_during_backward() const;
  // Sums a 1-D tensor (on the host or the gang's device) across ranks, in place.
  absl::Status Sum(torch::Tensor& values);
  // Copies rank 0's tensors into every rank's, in place (parameters and buffers at the start).
  absl::Status Broadcast(const std::vector<torch::Tensor>& tensors);

  // Gradient traffic since the start: seconds steps spent in FinishStep (the all-reduce time
  // backward did not hide), and bytes each rank sent into the all-reduce.
  double gradient_seconds() const { return gradient_seconds_; }
  int64_t gradient_bytes() const { return gradient_bytes_; }

 private:
  struct Impl;
  ReplicaGroup(Options options, std::unique_ptr<GangConnection> connection);
  // Launches the buckets whose gradients are all final, in order; true if any. Under impl_->mu.
  bool LaunchReadyLocked();

  Options options_;
  std::unique_ptr<GangConnection> connection_;
  std::unique_ptr<Impl> impl_;
  torch::Device device_ = torch::kCPU;
  double gradient_seconds_ = 0.0;
  int64_t gradient_bytes_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_REPLICA_GROUP_H_
