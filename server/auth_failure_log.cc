#include "server/auth_failure_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace polytrain {

AuthFailureLog::AuthFailureLog(Sink sink, int per_window, Clock::duration window)
    : sink_(sink != nullptr ? std::move(sink)
                            : [](const std::string& line) { spdlog::warn("{}", line); }),
      per_window_(per_window),
      window_(window) {}

AuthFailureLog::~AuthFailureLog() {
  std::lock_guard<std::mutex> lock(mu_);
  WriteCountLocked();
}

void AuthFailureLog::WriteCountLocked() {
  if (unlogged_ == 0) return;
  sink_(absl::StrCat("refused ", unlogged_, " more call(s) for their credentials since ",
                     per_window_, " were logged (not each logged)"));
  unlogged_ = 0;
}

void AuthFailureLog::Record(const std::string& peer, const absl::Status& why,
                            Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (logged_ == 0 || now - window_start_ >= window_) {
    WriteCountLocked();
    window_start_ = now;
    logged_ = 0;
  }
  if (logged_ >= per_window_) {
    ++unlogged_;
    return;
  }
  ++logged_;
  sink_(absl::StrCat("refused a call from ", peer.empty() ? "an unknown peer" : peer, ": ",
                     absl::StatusCodeToString(why.code()), ": ", why.message()));
}

}  // namespace polytrain
