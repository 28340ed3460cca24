#include "server/auth_failure_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace polytrain {

AuthFailureLog::AuthFailureLog(Sink sink, int per_window, Clock::duration window, std::string calls)
    : log_(
          sink != nullptr ? std::move(sink)
                          : [](const std::string& line) { spdlog::warn("{}", line); },
          [calls = std::move(calls)](int64_t unwritten, int written) {
            return absl::StrCat("refused ", unwritten, " more ", calls, " since ", written,
                                " were logged (not each logged)");
          },
          per_window, window) {}

void AuthFailureLog::Record(const std::string& peer, const absl::Status& why,
                            Clock::time_point now) {
  log_.Write(
      [&] {
        return absl::StrCat("refused a call from ", peer.empty() ? "an unknown peer" : peer, ": ",
                            absl::StatusCodeToString(why.code()), ": ", why.message());
      },
      now);
}

}  // namespace polytrain
