// How long the worker waits before dialling the coordinator again: 0.1 s after the first failed
// stream, doubling to 5 s, but never past the coordinator's heartbeat interval (a third of its
// lease, from its Welcome). A restarted coordinator gives each job it restored one lease for
// its worker to come back and re-attach it; a worker dialling every 5 s would miss a lease of
// 4 s, and its running job would be requeued (or, cancelled, ended as if its worker vanished).
// The bound is the last Welcome's: a coordinator restarted with a shorter lease is dialled at
// the old one's pace (at most 5 s) until it has welcomed the worker once.
#ifndef POLYTRAIN_WORKER_REDIAL_BACKOFF_H_
#define POLYTRAIN_WORKER_REDIAL_BACKOFF_H_

#include <chrono>

namespace polytrain {

// The wait before each dial; one per worker, used by its connection loop alone.
class RedialBackoff {
 public:
  static constexpr double kFirstSeconds = 0.1;
  static constexpr double kMaxSeconds = 5.0;

  // The wait before the next dial, given the coordinator's last heartbeat interval; each call
  // doubles the next one, up to the bound.
  std::chrono::duration<double> Next(double heartbeat_seconds);
  // A stream that was healthy: the next dial comes after kFirstSeconds.
  void Reset() { next_ = kFirstSeconds; }

 private:
  double next_ = kFirstSeconds;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_REDIAL_BACKOFF_H_
