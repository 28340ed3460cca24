#include "worker/outbox.h"

#include <algorithm>
#include <iterator>

namespace polytrain {

using polytrain::v1::MetricPoint;
using polytrain::v1::WorkerMessage;

namespace {

size_t PointsIn(const WorkerMessage& message) {
  return message.has_metrics() ? static_cast<size_t>(message.metrics().points_size()) : 0;
}

}  // namespace

uint64_t Outbox::Enqueue(WorkerMessage message) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t sequence = ++next_sequence_;
  message.set_sequence(sequence);
  buffered_points_ += PointsIn(message);
  unsent_.push_back(std::move(message));
  EnforceBoundLocked();
  ShowBufferedLocked();
  cv_.notify_all();
  return sequence;
}

std::deque<WorkerMessage> Outbox::TakeUnsent(int64_t stream, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stream != stream_) {
    // A new stream: what the last one did not acknowledge goes first, in order (the coordinator
    // may have died before storing it).
    unsent_.insert(unsent_.begin(), std::make_move_iterator(unacked_.begin()),
                   std::make_move_iterator(unacked_.end()));
    unacked_.clear();
    stream_ = stream;
  }
  cv_.wait_for(lock, timeout, [&] { return closed_.load() || !unsent_.empty(); });
  std::deque<WorkerMessage> taken;
  taken.swap(unsent_);
  return taken;
}

void Outbox::Written(WorkerMessage message) {
  std::lock_guard<std::mutex> lock(mu_);
  unacked_.push_back(std::move(message));
}

void Outbox::ReturnUnsent(std::deque<WorkerMessage> messages) {
  std::lock_guard<std::mutex> lock(mu_);
  unsent_.insert(unsent_.begin(), std::make_move_iterator(messages.begin()),
                 std::make_move_iterator(messages.end()));
}

void Outbox::Acknowledge(uint64_t sequence) {
  uint64_t previous = acked_through_.load();
  while (sequence > previous && !acked_through_.compare_exchange_weak(previous, sequence)) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  while (!unacked_.empty() && unacked_.front().sequence() <= sequence) {
    buffered_points_ -= PointsIn(unacked_.front());
    unacked_.pop_front();
  }
  ShowBufferedLocked();
  acked_cv_.notify_all();
}

bool Outbox::WaitAcknowledged(uint64_t sequence, std::chrono::duration<double> timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return acked_cv_.wait_for(lock, timeout, [&] {
    return closed_ || acked_through_.load() >= sequence;
  }) && acked_through_.load() >= sequence;
}

void Outbox::Close() {
  closed_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
  acked_cv_.notify_all();
}

void Outbox::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

void Outbox::WaitUnlessClosed(std::chrono::duration<double> timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t wakes = wakes_;
  cv_.wait_for(lock, timeout, [&] { return closed_.load() || wakes_ != wakes; });
}

size_t Outbox::buffered_points() {
  std::lock_guard<std::mutex> lock(mu_);
  return buffered_points_;
}

void Outbox::EnforceBoundLocked() {
  size_t dropped = 0;
  for (std::deque<WorkerMessage>* queue : {&unacked_, &unsent_}) {
    for (auto it = queue->begin(); buffered_points_ > max_buffered_points_ && it != queue->end();) {
      if (!it->has_metrics()) {
        ++it;
        continue;
      }
      auto* points = it->mutable_metrics()->mutable_points();
      const size_t before = static_cast<size_t>(points->size());
      points->erase(std::remove_if(points->begin(), points->end(),
                                   [](const MetricPoint& point) {
                                     return point.kind() == MetricPoint::KIND_TRAIN;
                                   }),
                    points->end());
      const size_t removed = before - static_cast<size_t>(points->size());
      buffered_points_ -= removed;
      dropped += removed;
      if (points->empty()) {
        it = queue->erase(it);
      } else {
        ++it;
      }
    }
  }
  if (dropped == 0) return;
  dropped_points_ += dropped;
  if (metrics_ != nullptr) metrics_->PointsDropped(dropped);
}

void Outbox::ShowBufferedLocked() {
  if (metrics_ != nullptr) metrics_->SetBufferedPoints(buffered_points_);
}

}  // namespace polytrain
