// Calls refused in the coordinator's log: by access control (a wrong, missing or revoked token, a
// worker without its certificate, a client asking for another user's job), or, on the worker
// service, for what they sent (a malformed hello). Each names the peer and
// why, at most `per_window` in a window and then a count, so that a client retrying a bad token in
// a loop cannot flood the log. The count is written with the first refusal after its window, or
// when the log is destroyed (the coordinator stops), whichever comes first.
#ifndef POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_
#define POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "common/rate_limited_log.h"

namespace polytrain {

class AuthFailureLog {
 public:
  using Clock = RateLimitedLog::Clock;
  // Where a line goes (spdlog's warning level by default; tests collect them).
  using Sink = RateLimitedLog::Sink;

  // `calls` names what the count's line counts.
  explicit AuthFailureLog(Sink sink = nullptr, int per_window = 10,
                          Clock::duration window = std::chrono::seconds(60),
                          std::string calls = "call(s) by access control");

  // A refused call from `peer` (gRPC's "ipv4:127.0.0.1:50432"), refused with `why`.
  void Record(const std::string& peer, const absl::Status& why, Clock::time_point now);
  void Record(const std::string& peer, const absl::Status& why) { Record(peer, why, Clock::now()); }

 private:
  RateLimitedLog log_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_
