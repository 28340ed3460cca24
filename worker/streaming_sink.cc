#include "worker/streaming_sink.h"

#include <algorithm>
#include <utility>

namespace polytrain {

using polytrain::v1::MetricPoint;
using polytrain::v1::WorkerMessage;

StreamingSink::StreamingSink(const polytrain::v1::Job& job, Outbox* outbox, WorkerMetrics* metrics)
    : job_id_(job.id()),
      attempt_(job.attempts()),
      batch_size_(job.spec().batch_size()),
      outbox_(outbox),
      metrics_(job.spec().replicas() > 1 ? nullptr : metrics) {}

void StreamingSink::Emit(const MetricPoint& point) {
  auto rate = point.values().find("samples_per_second");
  if (metrics_ != nullptr && point.kind() == MetricPoint::KIND_TRAIN &&
      rate != point.values().end() && rate->second > 0) {
    metrics_->TrainingProgress(job_id_, batch_size_ / rate->second, rate->second);
  }
  *batch_.add_points() = point;
  last_step_ = std::max(last_step_, point.step());
  if (point.kind() == MetricPoint::KIND_EVAL || batch_.points_size() >= 100 ||
      Clock::now() - last_flush_ > std::chrono::seconds(1)) {
    Flush();
  }
}

uint64_t StreamingSink::Flush() {
  last_flush_ = Clock::now();
  if (batch_.points_size() == 0) return last_sequence_;
  WorkerMessage message;
  *message.mutable_metrics() = std::move(batch_);
  message.mutable_metrics()->set_job_id(job_id_);
  message.mutable_metrics()->set_attempt(attempt_);
  last_sequence_ = outbox_->Enqueue(std::move(message));
  batch_.Clear();
  return last_sequence_;
}

}  // namespace polytrain
