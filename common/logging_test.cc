#include "common/logging.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

TEST(LoggingTest, JsonLinesEscapeTheMessage) {
  EXPECT_EQ(JsonString("a \"b\"\\\n\x01"), "\"a \\\"b\\\"\\\\\\n\\u0001\"");
  ASSERT_TRUE(InitLogging("polytrain-test", {"info", "json"}).ok());
  testing::internal::CaptureStderr();
  spdlog::warn("refused {}", "a \"quoted\" value");
  spdlog::debug("below the level");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("below"), std::string::npos) << out;
  EXPECT_NE(out.find("\"level\":\"warning\",\"logger\":\"polytrain-test\","
                     "\"message\":\"refused a \\\"quoted\\\" value\"}\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.rfind("{\"time\":\"", 0), 0u) << out;
}

// A text record is one line whatever its message holds: a worker's error cannot forge a record.
TEST(LoggingTest, TextLinesKeepTheMessageOnOneLine) {
  EXPECT_EQ(OneLogLine("a\tb\nc\r\x1b[31m\x7f"), "a\tb\\nc\\r\\x1b[31m\\x7f");
  ASSERT_TRUE(InitLogging("polytrain-test", {"info", "text"}).ok());
  testing::internal::CaptureStderr();
  spdlog::warn("failed: {}", "boom\n2026-12-06 18:00:00.000 polytrain-coordinator info: FORGED");
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find(" polytrain-test warning: failed: boom\\n2026-12-06 18:00:00.000 "
                     "polytrain-coordinator info: FORGED\n"),
            std::string::npos)
      << out;
}

TEST(LoggingTest, BadFlagValuesNameTheFlag) {
  EXPECT_EQ(InitLogging("t", {"loud", "text"}).message(),
            "--log_level: one of trace, debug, info, warn, error, critical, off; got 'loud'");
  EXPECT_EQ(InitLogging("t", {"info", "xml"}).message(), "--log_format: text or json, got 'xml'");
  EXPECT_TRUE(InitLogging("t", {"off", "text"}).ok());
}

}  // namespace
}  // namespace polytrain
