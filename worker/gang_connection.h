// One rank's connections to its gang: rank 0's store for the rendezvous and the process group
// (c10d's Gloo, or NCCL for CUDA tensors where LibTorch has it) that sums and broadcasts
// tensors. ReplicaGroup builds data parallelism on top; this is where the traffic goes. Two
// kinds: in this process (worker/c10d_connection.h) or in a child process of its own
// (worker/child_connection.h), picked by GangOptions.process_binary.
#ifndef POLYTRAIN_WORKER_GANG_CONNECTION_H_
#define POLYTRAIN_WORKER_GANG_CONNECTION_H_

#include <torch/torch.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/gang_options.h"

namespace polytrain {

class GangConnection {
 public:
  virtual ~GangConnection() = default;

  // Where rank 0's store listens, "host:port" (ranks > 0: options.rendezvous).
  virtual const std::string& rendezvous() const = 0;
  // Ranks > 0 connect to rank 0's store; every rank waits until all have and builds the process
  // group for tensors on `device` (ReplicaGroup::Join says the errors).
  virtual absl::Status Join(const torch::Device& device) = 0;
  // "gloo" or "nccl" once joined, "none" before.
  virtual const char* backend() const = 0;
  // Whether the traffic runs in a child process (worker/child_connection.h).
  virtual bool in_own_process() const = 0;

  // Where a gradient bucket of `numel` elements of `dtype` is built, `offset` bytes into the
  // `total` bytes every bucket takes (ReserveBuckets first): memory LaunchSum can send without
  // a copy.
  virtual absl::Status ReserveBuckets(int64_t total) = 0;
  virtual torch::Tensor BucketMemory(int64_t offset, int64_t numel, torch::ScalarType dtype,
                                     const torch::Device& device) = 0;
  // Starts summing `flat` (a BucketMemory tensor) across ranks in place; sums finish in the
  // order they were launched, on every rank alike. WaitLaunched waits for all of them.
  virtual absl::Status LaunchSum(const torch::Tensor& flat) = 0;
  virtual absl::Status WaitLaunched() = 0;

  // Sums `values` (contiguous, on the host or the gang's device) across ranks, in place.
  virtual absl::Status Sum(torch::Tensor& values) = 0;
  // Copies rank 0's `values` (contiguous) into every rank's, in place.
  virtual absl::Status Broadcast(torch::Tensor& values) = 0;
};

// Rank 0 opens its store on a port the system picks; the others only check their options.
// Errors as ReplicaGroup::Open says.
absl::StatusOr<std::unique_ptr<GangConnection>> OpenGangConnection(const GangOptions& options);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GANG_CONNECTION_H_
