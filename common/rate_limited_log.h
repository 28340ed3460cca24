// Lines of one kind that a peer can provoke at will (a refused token, a failed TLS handshake)
// written at most `per_window` in a window and then as a count, so that a client retrying in a
// loop cannot flood the log. The count is written with the first line after its window, or when
// the log is destroyed, whichever comes first.
#ifndef POLYTRAIN_COMMON_RATE_LIMITED_LOG_H_
#define POLYTRAIN_COMMON_RATE_LIMITED_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/functional/function_ref.h"

namespace polytrain {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  // Where a line goes.
  using Sink = std::function<void(const std::string& line)>;
  // The line that says `unwritten` lines were not written, given how many were (`per_window`).
  using CountLine = std::function<std::string(int64_t unwritten, int per_window)>;

  RateLimitedLog(Sink sink, CountLine count_line, int per_window, Clock::duration window);
  ~RateLimitedLog();
  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;

  // Writes `line()` unless this window's lines are spent (then it is only counted; `line` is not
  // called).
  void Write(absl::FunctionRef<std::string()> line, Clock::time_point now);
  void Write(absl::FunctionRef<std::string()> line) { Write(line, Clock::now()); }

 private:
  // The count of lines not written, if any; guarded by mu_.
  void WriteCountLocked();

  const Sink sink_;
  const CountLine count_line_;
  const int per_window_;
  const Clock::duration window_;
  std::mutex mu_;
  Clock::time_point window_start_;  // guarded by mu_
  int written_ = 0;                 // guarded by mu_: lines written in this window
  int64_t unwritten_ = 0;           // guarded by mu_: lines past them
};

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_RATE_LIMITED_LOG_H_
