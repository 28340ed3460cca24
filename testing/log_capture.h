// What spdlog's default logger writes while a ScopedLogCapture lives, for a test that checks a
// log line; its sink is taken off again however the test leaves the scope (an ASSERT that
// returns early would otherwise leave a sink writing into a destroyed stream).
#ifndef POLYTRAIN_TESTING_LOG_CAPTURE_H_
#define POLYTRAIN_TESTING_LOG_CAPTURE_H_

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace polytrain::testing {

class ScopedLogCapture {
 public:
  // `pattern`: spdlog's, e.g. "%l %v"; empty: the logger's own.
  explicit ScopedLogCapture(const std::string& pattern = "")
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    if (!pattern.empty()) sink_->set_pattern(pattern);
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~ScopedLogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

  std::string text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;  // before sink_, which writes into it
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_LOG_CAPTURE_H_
