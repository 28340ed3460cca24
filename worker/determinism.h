// LibTorch's algorithm choices for the jobs of this process (JobSpec.deterministic). They are
// process-wide in LibTorch, and a worker runs several jobs at once, so each job holds a lease:
// while any lease asks for determinism, deterministic algorithms are on and cuDNN's autotuning
// is off for every job; with none, autotuning is on (it only affects CUDA convolutions).
#ifndef POLYTRAIN_WORKER_DETERMINISM_H_
#define POLYTRAIN_WORKER_DETERMINISM_H_

#include <memory>

namespace polytrain {

class AlgorithmLease {
 public:
  virtual ~AlgorithmLease() = default;
};

// Held for the life of a job; releasing the last deterministic lease turns determinism off.
std::unique_ptr<AlgorithmLease> LeaseAlgorithms(bool deterministic);

// What LibTorch is set to now (for tests and the job's description).
bool DeterministicAlgorithmsOn();
bool CudnnAutotuneOn();

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_DETERMINISM_H_
