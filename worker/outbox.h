// The worker's reliable outbox for its stream to the coordinator. Every message but heartbeats
// is numbered (1, 2, ... per worker process) and kept until the coordinator acknowledges it as
// stored; when a new stream opens, what the last one did not acknowledge is sent again first, in
// order, so a message in flight when a stream breaks (or the coordinator dies) is never lost.
//
// Memory is bounded: beyond max_buffered_points metric points held (waiting for a stream, or
// sent and not yet acknowledged) the oldest training points are dropped and counted; evaluation
// points, starts and results are never dropped.
#ifndef POLYTRAIN_WORKER_OUTBOX_H_
#define POLYTRAIN_WORKER_OUTBOX_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "polytrain/v1/worker.pb.h"
#include "worker/worker_metrics.h"

namespace polytrain {

class Outbox {
 public:
  // `metrics` (may be null) shows the points held and counts those dropped.
  Outbox(size_t max_buffered_points, WorkerMetrics* metrics)
      : max_buffered_points_(max_buffered_points), metrics_(metrics) {}

  // Numbers `message`, queues it behind the others and returns its sequence number.
  uint64_t Enqueue(polytrain::v1::WorkerMessage message);

  // The messages not yet written, oldest first, once there are some (or `timeout` passed, or the
  // outbox closed). On the first call for a new stream (`stream` differs from the last call's),
  // every message written on an earlier stream and not acknowledged comes first, in order.
  std::deque<polytrain::v1::WorkerMessage> TakeUnsent(int64_t stream,
                                                      std::chrono::milliseconds timeout);
  // A message from TakeUnsent went out: it is kept until acknowledged.
  void Written(polytrain::v1::WorkerMessage message);
  // Messages from TakeUnsent that could not be written go back in front, in order.
  void ReturnUnsent(std::deque<polytrain::v1::WorkerMessage> messages);

  // The coordinator has stored every message numbered up to `sequence`.
  void Acknowledge(uint64_t sequence);
  uint64_t acknowledged_through() const { return acked_through_.load(); }
  // Waits until every message up to `sequence` is acknowledged (true), or `timeout` passed or
  // the outbox closed (false).
  bool WaitAcknowledged(uint64_t sequence, std::chrono::duration<double> timeout);

  // Wakes every wait and makes them return at once from now on.
  void Close();
  bool closed() const { return closed_.load(); }
  // Ends every WaitUnlessClosed now (e.g. a stream opened).
  void Wake();
  // Sleeps up to `timeout`, or until Close() or Wake(). An Enqueue does not end it: the
  // connection loop's backoff between dials would otherwise end at each report of a running job
  // (a worker dialled a stopped coordinator ~36 times a second).
  void WaitUnlessClosed(std::chrono::duration<double> timeout);

  // Metric points held: waiting, in the sender's hands, or written and not acknowledged.
  size_t buffered_points();
  uint64_t dropped_points() const { return dropped_points_.load(); }

 private:
  // Drops the oldest training points until at most max_buffered_points are held.
  void EnforceBoundLocked();
  void ShowBufferedLocked();

  const size_t max_buffered_points_;
  WorkerMetrics* const metrics_;

  std::mutex mu_;
  uint64_t wakes_ = 0;  // Wake() calls, under mu_
  std::condition_variable cv_;
  std::condition_variable acked_cv_;  // notified at each Acknowledge and at Close
  // Written but not acknowledged (unacked_), and not yet written (unsent_), both oldest first;
  // every unacknowledged one is older than every unwritten one.
  std::deque<polytrain::v1::WorkerMessage> unacked_;
  std::deque<polytrain::v1::WorkerMessage> unsent_;
  uint64_t next_sequence_ = 0;
  size_t buffered_points_ = 0;
  int64_t stream_ = 0;  // the stream of the last TakeUnsent
  std::atomic<uint64_t> acked_through_{0};
  std::atomic<uint64_t> dropped_points_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_OUTBOX_H_
