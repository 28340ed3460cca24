#include "worker/worker_metrics.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <string>

namespace polytrain {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : step_seconds_(
          BuildHistogram()
              .Name("polytrain_worker_step_seconds")
              .Help("Training step time (mean over each logging window).")
              .Register(registry)
              // From 0.1 ms: a small MLP's step on CPU (or a GPU's) takes well
              // under a millisecond, which one bucket below 0.5 ms left unresolved.
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0002, 0.0005, 0.001, 0.002,
                                                               0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
                                                               0.5, 1, 2, 5})),
      samples_per_second_(
          BuildGauge()
              .Name("polytrain_worker_samples_per_second")
              .Help("Training throughput of the jobs running here: the sum of each one's "
                    "latest logging window (0 when idle).")
              .Register(registry)
              .Add({})),
      jobs_running_(BuildGauge()
                        .Name("polytrain_worker_jobs_running")
                        .Help("Jobs this worker is training.")
                        .Register(registry)
                        .Add({})),
      buffered_points_(BuildGauge()
                           .Name("polytrain_worker_buffered_metric_points")
                           .Help("Metric points held until the coordinator acknowledges them.")
                           .Register(registry)
                           .Add({})),
      dropped_points_(BuildCounter()
                          .Name("polytrain_worker_dropped_metric_points_total")
                          .Help("Training metric points dropped because the buffer was full "
                                "while the coordinator was unreachable.")
                          .Register(registry)
                          .Add({})),
      resident_memory_(BuildGauge()
                           .Name("process_resident_memory_bytes")
                           .Help("Resident memory size in bytes.")
                           .Register(registry)
                           .Add({})),
      gpu_allocated_(BuildGauge()
                         .Name("polytrain_worker_gpu_memory_allocated_bytes")
                         .Help("GPU memory LibTorch's allocator holds for live tensors.")
                         .Register(registry)),
      gpu_reserved_(BuildGauge()
                        .Name("polytrain_worker_gpu_memory_reserved_bytes")
                        .Help("GPU memory LibTorch's allocator has reserved from the driver.")
                        .Register(registry)),
      gpu_jobs_(BuildGauge()
                    .Name("polytrain_worker_gpu_jobs")
                    .Help("Jobs running on the GPU (one at most).")
                    .Register(registry)),
      replica_step_seconds_(BuildGauge()
                                .Name("polytrain_worker_replica_step_seconds")
                                .Help("A data-parallel rank's mean step time over its latest "
                                      "logging window.")
                                .Register(registry)),
      replica_allreduce_seconds_(BuildGauge()
                                     .Name("polytrain_worker_replica_allreduce_seconds")
                                     .Help("The part of a data-parallel rank's step spent in the "
                                           "gradient all-reduce (mean over its latest window).")
                                     .Register(registry)) {
  RefreshProcessMemory();
}

void WorkerMetrics::TrainingProgress(const std::string& job_id, double seconds_per_step,
                                     double samples_per_second) {
  step_seconds_.Observe(seconds_per_step);
  std::lock_guard<std::mutex> lock(mu_);
  samples_per_second_by_job_[job_id] = samples_per_second;
  ShowThroughputLocked();
}

void WorkerMetrics::TrainingEnded(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  samples_per_second_by_job_.erase(job_id);
  ShowThroughputLocked();
}

void WorkerMetrics::ShowThroughputLocked() {
  double total = 0;
  for (const auto& [job, rate] : samples_per_second_by_job_) total += rate;
  samples_per_second_.Set(total);
}

void WorkerMetrics::SetJobsRunning(int jobs) { jobs_running_.Set(jobs); }

void WorkerMetrics::SetBufferedPoints(size_t points) {
  buffered_points_.Set(static_cast<double>(points));
}

void WorkerMetrics::PointsDropped(size_t points) {
  dropped_points_.Increment(static_cast<double>(points));
}

void WorkerMetrics::SetGpu(int gpu, double allocated_bytes, double reserved_bytes, int jobs) {
  const std::map<std::string, std::string> labels{{"gpu", std::to_string(gpu)}};
  gpu_allocated_.Add(labels).Set(allocated_bytes);
  gpu_reserved_.Add(labels).Set(reserved_bytes);
  gpu_jobs_.Add(labels).Set(jobs);
}

void WorkerMetrics::ReplicaWindow(const std::string& job_id, int rank, double step_seconds,
                                  double allreduce_seconds) {
  const std::map<std::string, std::string> labels{{"job_id", job_id},
                                                  {"rank", std::to_string(rank)}};
  replica_step_seconds_.Add(labels).Set(step_seconds);
  replica_allreduce_seconds_.Add(labels).Set(allreduce_seconds);
}

void WorkerMetrics::ReplicaEnded(const std::string& job_id, int rank) {
  const std::map<std::string, std::string> labels{{"job_id", job_id},
                                                  {"rank", std::to_string(rank)}};
  for (auto* family : {&replica_step_seconds_, &replica_allreduce_seconds_}) {
    if (family->Has(labels)) family->Remove(&family->Add(labels));
  }
}

void WorkerMetrics::RefreshProcessMemory() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident) {
    resident_memory_.Set(static_cast<double>(pages_resident) * sysconf(_SC_PAGESIZE));
  }
}

}  // namespace polytrain
