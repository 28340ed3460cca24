// Ends a streaming call on which nothing moves for too long: an upload whose client stops sending
// chunks, a download whose client stops reading them. Without it such a stream holds its file
// open, and an upload holds one of its caller's few upload slots, for as long as the client's
// connection lives.
//
// The reactor arms the timer before each StartRead/StartWrite and disarms it when the read or
// write is done. When the timer fires first, it calls `on_idle` (which finishes the stream) and
// the reactor, on its next reaction, learns from Disarm that the stream has been ended for it.
//
// `on_idle` runs on a gRPC executor thread under the timer's lock, so it never overlaps a
// Disarm or a Stop. That is safe because gRPC never runs a reaction (OnReadDone, OnWriteDone,
// OnDone) inline from Finish: they come on other threads and wait for the lock.
#ifndef POLYTRAIN_SERVER_STREAM_IDLE_TIMER_H_
#define POLYTRAIN_SERVER_STREAM_IDLE_TIMER_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"

namespace polytrain {

// A coordinator's default for --transfer_idle_seconds.
inline constexpr double kDefaultTransferIdleSeconds = 60.0;

// How an upload on which no chunk came for `timeout` ends: DEADLINE_EXCEEDED naming the flag.
absl::Status IdleUploadStatus(absl::Duration timeout);

class StreamIdleTimer {
 public:
  // `on_idle` must finish the stream; it is called at most once. A `timeout` of zero or less
  // never fires.
  StreamIdleTimer(absl::Duration timeout, std::function<void()> on_idle);
  ~StreamIdleTimer();  // Stop()s

  StreamIdleTimer(const StreamIdleTimer&) = delete;
  StreamIdleTimer& operator=(const StreamIdleTimer&) = delete;

  // Starts the wait for the next message; the reactor calls Arm and Disarm one after the other,
  // never concurrently (from its reactions, and a download's first Arm from the thread that
  // found its file, before its first write).
  void Arm();
  // Ends the wait. False when the timer fired first: `on_idle` has finished the stream, and the
  // reaction must return without touching it.
  bool Disarm();
  // For OnDone, before the reactor deletes itself: no `on_idle` runs once this returns.
  void Stop();

 private:
  struct State {
    absl::Mutex mu;
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;  // bumped by Disarm and Stop
    bool stopped ABSL_GUARDED_BY(mu) = false;
    bool fired ABSL_GUARDED_BY(mu) = false;
    std::function<void()> on_idle;
  };

  const absl::Duration timeout_;
  std::shared_ptr<State> state_;  // shared with the alarms' callbacks, which may outlive this
  std::unique_ptr<grpc::Alarm> alarm_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_STREAM_IDLE_TIMER_H_
