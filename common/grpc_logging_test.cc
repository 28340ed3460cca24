// gRPC's warnings (a peer's failed TLS handshake, a plaintext request to a TLS port) reach the
// process's log at most kGrpcWarningsPerMinute a minute, however fast a peer provokes them.
#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testing/log_capture.h"

namespace polytrain {
namespace {

TEST(GrpcLoggingTest, ABurstOfWarningsIsBoundedAndItsErrorsAreWarnings) {
  std::string log;
  {
    testing::ScopedLogCapture capture("%l %v");
    RouteGrpcLogsToSpdlog();
    for (int i = 0; i < 3 * kGrpcWarningsPerMinute; ++i) {
      gpr_log(GPR_ERROR, "Handshake failed with fatal error SSL_ERROR_SSL %d", i);
    }
    SilenceGrpcLogs();
    log = capture.text();
  }
  const std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kGrpcWarningsPerMinute)) << log;
  EXPECT_EQ(lines[0], "warning grpc: Handshake failed with fatal error SSL_ERROR_SSL 0");
}

}  // namespace
}  // namespace polytrain
