// How one rank of a data-parallel attempt (JobSpec.replicas > 1) joins its gang: what
// ReplicaGroup and the connections beneath it (worker/gang_connection.h) are opened with.
#ifndef POLYTRAIN_WORKER_GANG_OPTIONS_H_
#define POLYTRAIN_WORKER_GANG_OPTIONS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace polytrain {

struct GangOptions {
  // Gradients travel in buckets of at most this many bytes by default (as DistributedDataParallel's
  // 25 MB).
  static constexpr int64_t kBucketBytes = int64_t{25} << 20;

  int rank = 0;
  int world_size = 1;
  // The host the other ranks reach this one at (the worker's --advertise_address); Gloo's
  // connections to this rank go there. Rank 0's store listens there too with LibTorch 2.x, on
  // every interface with 1.13 (which cannot bind one).
  std::string host = "127.0.0.1";
  // The gang's tensors may be on CUDA (spec.device not CPU): with NCCL, which picks its own
  // interfaces, `host` need not be this machine's, and is not checked when the group opens.
  bool cuda = false;
  // Ranks > 0: rank 0's store, "host:port".
  std::string rendezvous;
  // How long joining, and each collective, waits for the slowest rank.
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  // Gradients travel in buckets of at most this many bytes.
  int64_t bucket_bytes = kBucketBytes;
  // Set (by another thread) to stop joining: Join then returns CANCELLED within a tenth of a
  // second, rather than waiting out the timeout for a rank that is gone.
  const std::atomic<bool>* cancel = nullptr;
  // A binary that runs the gang's connections (its store, Gloo's sockets) in a process of its
  // own when given kGangChildFlag (worker/gang_child.h): polytrain-worker's "/proc/self/exe".
  // Peers are other machines' processes: what one sends that Gloo cannot take (Gloo throws on
  // its own thread, and the process aborts) then ends that process, not this one and every job
  // in it. Empty, or a gang on CUDA (NCCL's memory is this process's): in this process.
  std::string process_binary;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_GANG_OPTIONS_H_
