// Refused authentications in the coordinator's log: a wrong, missing or revoked token, a worker
// without its certificate. Each names the peer and why, at most `per_window` in a window and then
// a count, so that a client retrying a bad token in a loop cannot flood the log. The count is
// written with the first refusal after its window, or when the log is destroyed (the coordinator
// stops), whichever comes first.
#ifndef POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_
#define POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace polytrain {

class AuthFailureLog {
 public:
  using Clock = std::chrono::steady_clock;
  // Where a line goes (spdlog's warning level by default; tests collect them).
  using Sink = std::function<void(const std::string& line)>;

  explicit AuthFailureLog(Sink sink = nullptr, int per_window = 10,
                          Clock::duration window = std::chrono::seconds(60));
  ~AuthFailureLog();
  AuthFailureLog(const AuthFailureLog&) = delete;
  AuthFailureLog& operator=(const AuthFailureLog&) = delete;

  // A refused call from `peer` (gRPC's "ipv4:127.0.0.1:50432"), refused with `why`.
  void Record(const std::string& peer, const absl::Status& why, Clock::time_point now);
  void Record(const std::string& peer, const absl::Status& why) { Record(peer, why, Clock::now()); }

 private:
  // The count of refusals not logged one by one, if any; guarded by mu_.
  void WriteCountLocked();

  const Sink sink_;
  const int per_window_;
  const Clock::duration window_;
  std::mutex mu_;
  Clock::time_point window_start_;  // guarded by mu_
  int logged_ = 0;                  // guarded by mu_: lines written in this window
  int64_t unlogged_ = 0;            // guarded by mu_: refusals past them
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_AUTH_FAILURE_LOG_H_
