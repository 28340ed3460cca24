// Lines a peer can provoke at will are written up to a bound per window, then counted; the count
// comes with the next window's first line or when the log goes.
#include "common/rate_limited_log.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

RateLimitedLog::CountLine Counted() {
  return [](int64_t unwritten, int written) {
    return absl::StrCat(unwritten, " more after ", written);
  };
}

TEST(RateLimitedLogTest, ABurstIsWrittenUpToItsBoundThenCountedWithTheNextWindow) {
  std::vector<std::string> lines;
  RateLimitedLog log([&](const std::string& line) { lines.push_back(line); }, Counted(),
                     /*per_window=*/2, std::chrono::seconds(60));
  const auto start = RateLimitedLog::Clock::now();
  int made = 0;
  for (int i = 0; i < 5; ++i) {
    log.Write([&] { return absl::StrCat("line ", ++made); }, start + std::chrono::seconds(i));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"line 1", "line 2"}));
  EXPECT_EQ(made, 2);  // a line counted only is never made
  log.Write([] { return std::string("next window"); }, start + std::chrono::seconds(60));
  EXPECT_EQ(lines, (std::vector<std::string>{"line 1", "line 2", "3 more after 2", "next window"}));
}

TEST(RateLimitedLogTest, TheCountOfABurstThatStopsIsWrittenWhenTheLogGoes) {
  std::vector<std::string> lines;
  {
    RateLimitedLog log([&](const std::string& line) { lines.push_back(line); }, Counted(), 1,
                       std::chrono::seconds(60));
    for (int i = 0; i < 4; ++i) log.Write([] { return std::string("x"); });
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"x", "3 more after 1"}));
}

}  // namespace
}  // namespace polytrain
