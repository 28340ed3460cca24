// The metric sink of a job the coordinator assigned: its points batched into the worker's
// outbox, flushed at every evaluation, every 100 points and at least once a second.
#ifndef POLYTRAIN_WORKER_STREAMING_SINK_H_
#define POLYTRAIN_WORKER_STREAMING_SINK_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "polytrain/v1/job_record.pb.h"
#include "worker/metric_sink.h"
#include "worker/outbox.h"
#include "worker/worker_metrics.h"

namespace polytrain {

class StreamingSink : public MetricSink {
 public:
  // A gang's points carry its summed throughput: its ranks report their own to `metrics`
  // (TrainerOptions::on_replica_window), so the sink does not.
  StreamingSink(const polytrain::v1::Job& job, Outbox* outbox, WorkerMetrics* metrics);

  void Emit(const polytrain::v1::MetricPoint& point) override;

  // Sends the points held; returns the sequence of the newest batch it ever sent (0: none).
  uint64_t Flush();

  // The newest step the job reported: how far a failed or cancelled attempt trained.
  int64_t last_step() const { return last_step_; }

 private:
  using Clock = std::chrono::steady_clock;

  std::string job_id_;
  int32_t attempt_;
  int batch_size_;
  Outbox* outbox_;
  WorkerMetrics* metrics_;
  polytrain::v1::MetricBatch batch_;
  Clock::time_point last_flush_ = Clock::now();
  int64_t last_step_ = 0;
  uint64_t last_sequence_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_STREAMING_SINK_H_
