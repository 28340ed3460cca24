#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

std::string JsonLine(absl::Time time, absl::string_view level, absl::string_view logger,
                     absl::string_view message) {
  return absl::StrCat("{\"time\":\"",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()),
                      "\",\"level\":", JsonString(level), ",\"logger\":", JsonString(logger),
                      ",\"message\":", JsonString(message), "}\n");
}

// One JSON object per record; spdlog's pattern language cannot escape a message for JSON.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const std::string line =
        JsonLine(absl::FromChrono(msg.time), absl::string_view(level.data(), level.size()),
                 absl::string_view(msg.logger_name.data(), msg.logger_name.size()),
                 absl::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The text lines: spdlog's pattern, then the message on that one line, whatever it holds (a
// worker's error with a newline forged a log line of its own; probe CP).
class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    prefix_.format(msg, dest);
    const std::string line = OneLogLine(absl::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  spdlog::pattern_formatter prefix_{
      "%Y-%m-%d %H:%M:%S.%e %n %l: ", spdlog::pattern_time_type::local, ""};
};

std::atomic<bool> logs_as_json{false};

}  // namespace

bool LogsAsJson() { return logs_as_json.load(); }

std::string JsonLogLine(absl::string_view level, absl::string_view logger,
                        absl::string_view message) {
  return JsonLine(absl::Now(), level, logger, message);
}

std::string OneLogLine(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

absl::Status InitLogging(absl::string_view program, const LoggingOptions& options) {
  const spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level: one of trace, debug, info, warn, error, critical, off; got '",
                     options.level, "'"));
  }
  if (options.format != "text" && options.format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format: text or json, got '", options.format, "'"));
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(program),
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (options.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  logs_as_json = options.format == "json";
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);  // every line reaches the file at once
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace polytrain
