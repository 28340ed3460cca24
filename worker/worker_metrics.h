// The Prometheus series a worker exports on its own /metrics (service mode): step time,
// throughput, jobs running, metric points held for the coordinator, its memory and, per GPU,
// the GPU's memory and jobs, and per rank of a data-parallel job its step and all-reduce time.
// Built once here; the rest only calls the methods (from any thread).
#ifndef POLYTRAIN_WORKER_WORKER_METRICS_H_
#define POLYTRAIN_WORKER_WORKER_METRICS_H_

#include <map>
#include <mutex>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace polytrain {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // From a training metric point of `job_id`: the mean step time over its window and the
  // throughput. The worker's throughput is the sum over its running jobs of their latest.
  void TrainingProgress(const std::string& job_id, double seconds_per_step,
                        double samples_per_second);
  // The job stopped training here: its throughput no longer counts (0 when idle).
  void TrainingEnded(const std::string& job_id);
  void SetJobsRunning(int jobs);
  // Metric points held until the coordinator acknowledges them, and those dropped over the
  // bound while the stream was down.
  void SetBufferedPoints(size_t points);
  void PointsDropped(size_t points);
  // Reads the resident set size of this process from /proc/self/statm.
  void RefreshProcessMemory();
  // One GPU of the worker's (label gpu="<index>"): the memory LibTorch's allocator has
  // allocated for tensors and reserved from the driver, and the jobs running on it.
  void SetGpu(int gpu, double allocated_bytes, double reserved_bytes, int jobs);
  // A rank of a data-parallel job this worker runs (labels job_id, rank): its mean step time over
  // the latest logging window and the part of it spent in the gradient all-reduce.
  void ReplicaWindow(const std::string& job_id, int rank, double step_seconds,
                     double allreduce_seconds);
  // The rank ended: its series go.
  void ReplicaEnded(const std::string& job_id, int rank);

 private:
  // samples_per_second_ as the sum over the running jobs.
  void ShowThroughputLocked();

  std::mutex mu_;
  std::map<std::string, double> samples_per_second_by_job_;  // guarded by mu_
  prometheus::Histogram& step_seconds_;
  prometheus::Gauge& samples_per_second_;
  prometheus::Gauge& jobs_running_;
  prometheus::Gauge& buffered_points_;
  prometheus::Counter& dropped_points_;
  prometheus::Gauge& resident_memory_;
  prometheus::Family<prometheus::Gauge>& gpu_allocated_;
  prometheus::Family<prometheus::Gauge>& gpu_reserved_;
  prometheus::Family<prometheus::Gauge>& gpu_jobs_;
  prometheus::Family<prometheus::Gauge>& replica_step_seconds_;
  prometheus::Family<prometheus::Gauge>& replica_allreduce_seconds_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_WORKER_METRICS_H_
