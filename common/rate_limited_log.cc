#include "common/rate_limited_log.h"

#include <utility>

namespace polytrain {

RateLimitedLog::RateLimitedLog(Sink sink, CountLine count_line, int per_window,
                               Clock::duration window)
    : sink_(std::move(sink)),
      count_line_(std::move(count_line)),
      per_window_(per_window),
      window_(window) {}

RateLimitedLog::~RateLimitedLog() {
  std::lock_guard<std::mutex> lock(mu_);
  WriteCountLocked();
}

void RateLimitedLog::WriteCountLocked() {
  if (unwritten_ == 0) return;
  sink_(count_line_(unwritten_, per_window_));
  unwritten_ = 0;
}

void RateLimitedLog::Write(absl::FunctionRef<std::string()> line, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (written_ == 0 || now - window_start_ >= window_) {
    WriteCountLocked();
    window_start_ = now;
    written_ = 0;
  }
  if (written_ >= per_window_) {
    ++unwritten_;
    return;
  }
  ++written_;
  sink_(line());
}

}  // namespace polytrain
