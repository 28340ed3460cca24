#include "worker/determinism.h"

#include <ATen/Context.h>

#include <mutex>

namespace polytrain {
namespace {

std::mutex mu;
int deterministic_leases = 0;  // under mu

void ApplyLocked() {
  const bool deterministic = deterministic_leases > 0;
  at::globalContext().setDeterministicAlgorithms(deterministic, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(deterministic);
  at::globalContext().setBenchmarkCuDNN(!deterministic);
}

class Lease : public AlgorithmLease {
 public:
  explicit Lease(bool deterministic) : deterministic_(deterministic) {
    std::lock_guard<std::mutex> lock(mu);
    if (deterministic_) ++deterministic_leases;
    ApplyLocked();
  }
  ~Lease() override {
    std::lock_guard<std::mutex> lock(mu);
    if (deterministic_) --deterministic_leases;
    ApplyLocked();
  }

 private:
  const bool deterministic_;
};

}  // namespace

std::unique_ptr<AlgorithmLease> LeaseAlgorithms(bool deterministic) {
  return std::make_unique<Lease>(deterministic);
}

bool DeterministicAlgorithmsOn() { return at::globalContext().deterministicAlgorithms(); }

bool CudnnAutotuneOn() { return at::globalContext().benchmarkCuDNN(); }

}  // namespace polytrain
