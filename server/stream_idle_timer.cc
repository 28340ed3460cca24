#include "server/stream_idle_timer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace polytrain {

absl::Status IdleUploadStatus(absl::Duration timeout) {
  return absl::DeadlineExceededError(
      absl::StrCat("upload: no chunk came for ", absl::ToDoubleSeconds(timeout),
                   " s (the coordinator's --transfer_idle_seconds); nothing stored"));
}

StreamIdleTimer::StreamIdleTimer(absl::Duration timeout, std::function<void()> on_idle)
    : timeout_(timeout), state_(std::make_shared<State>()) {
  state_->on_idle = std::move(on_idle);
}

StreamIdleTimer::~StreamIdleTimer() { Stop(); }

void StreamIdleTimer::Arm() {
  if (timeout_ <= absl::ZeroDuration()) return;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->stopped || state_->fired) return;
    generation = state_->generation;
  }
  // A fresh alarm each time: Set on a used one replaces its callback, which a cancelled wait may
  // still be running on an executor thread (gRPC 1.51's Alarm).
  auto alarm = std::make_unique<grpc::Alarm>();
  alarm->Set(absl::ToChronoTime(absl::Now() + timeout_),
             [state = state_, generation](bool expired) {
               if (!expired) return;  // cancelled
               absl::MutexLock lock(&state->mu);
               if (state->stopped || state->fired || state->generation != generation) return;
               state->fired = true;
               state->on_idle();
             });
  alarm_ = std::move(alarm);  // the previous one, disarmed already, is cancelled
}

bool StreamIdleTimer::Disarm() {
  bool fired = false;
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->generation;
    fired = state_->fired;
  }
  alarm_.reset();
  return !fired;
}

void StreamIdleTimer::Stop() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopped = true;
    ++state_->generation;
  }
  alarm_.reset();
}

}  // namespace polytrain
