// Refused authentications are logged with their peer and reason, a burst of them only up to a
// bound per window and then as a count.
#include "server/auth_failure_log.h"

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(AuthFailureLogTest, ABurstIsLoggedUpToItsBoundThenCounted) {
  std::vector<std::string> lines;
  AuthFailureLog log([&](const std::string& line) { lines.push_back(line); }, /*per_window=*/2,
                     std::chrono::seconds(60));
  const auto start = AuthFailureLog::Clock::now();
  const absl::Status unknown = absl::UnauthenticatedError("unknown token");
  for (int i = 0; i < 5; ++i) log.Record("ipv4:127.0.0.1:4000" + std::to_string(i), unknown, start);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "refused a call from ipv4:127.0.0.1:40000: UNAUTHENTICATED: unknown token");
  EXPECT_EQ(lines[1], "refused a call from ipv4:127.0.0.1:40001: UNAUTHENTICATED: unknown token");
  // Within the window: still counted only.
  log.Record("ipv4:127.0.0.1:40005", unknown, start + std::chrono::seconds(59));
  EXPECT_EQ(lines.size(), 2u);
  // The next window first says how many went unlogged, then logs again.
  log.Record("",
             absl::PermissionDeniedError("token of worker 'w': a worker token may only speak "
                                         "the worker protocol"),
             start + std::chrono::seconds(61));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2],
            "refused 4 more call(s) by access control since 2 were logged (not each "
            "logged)");
  EXPECT_EQ(lines[3],
            "refused a call from an unknown peer: PERMISSION_DENIED: token of worker 'w': a worker "
            "token may only speak the worker protocol");
}

// A burst that ends within its window still has its count written, when the log goes (the
// coordinator stops), not only with a later refusal that may never come.
TEST(AuthFailureLogTest, TheCountOfABurstThatStopsIsWrittenAtTheEnd) {
  std::vector<std::string> lines;
  {
    AuthFailureLog log([&](const std::string& line) { lines.push_back(line); }, 1,
                       std::chrono::seconds(60));
    const absl::Status unknown = absl::UnauthenticatedError("unknown token");
    for (int i = 0; i < 3; ++i) log.Record("ipv4:127.0.0.1:1", unknown);
    EXPECT_EQ(lines.size(), 1u);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1],
            "refused 2 more call(s) by access control since 1 were logged (not each logged)");
  // The worker service's log counts what it refuses as what it is (probe CK: malformed hellos
  // were summed as access refusals).
  {
    AuthFailureLog log([&](const std::string& line) { lines.push_back(line); }, 1,
                       std::chrono::seconds(60), "worker-protocol call(s)");
    for (int i = 0; i < 2; ++i) {
      log.Record("ipv4:127.0.0.1:2", absl::InvalidArgumentError("hello.slots: must be in [0, 64]"));
    }
  }
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3],
            "refused 1 more worker-protocol call(s) since 1 were logged (not each logged)");
}

}  // namespace
}  // namespace polytrain
