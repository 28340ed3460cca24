// The Prometheus series a worker exports on its own /metrics (service mode): step time,
// throughput, jobs running, metric points held for the coordinator and its memory. Built once here;
// the rest only calls the methods.
#ifndef POLYTRAIN_WORKER_WORKER_METRICS_H_
#define POLYTRAIN_WORKER_WORKER_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace polytrain {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // From a training metric point: the mean step time over its window and the throughput.
  void TrainingProgress(double seconds_per_step, double samples_per_second);
  void SetJobsRunning(int jobs);
  // Metric points held until the coordinator acknowledges them, and those dropped over the
  // bound while the stream was down.
  void SetBufferedPoints(size_t points);
  void PointsDropped(size_t points);
  // Reads the resident set size of this process from /proc/self/statm.
  void RefreshProcessMemory();

 private:
  prometheus::Histogram& step_seconds_;
  prometheus::Gauge& samples_per_second_;
  prometheus::Gauge& jobs_running_;
  prometheus::Gauge& buffered_points_;
  prometheus::Counter& dropped_points_;
  prometheus::Gauge& resident_memory_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_WORKER_METRICS_H_
