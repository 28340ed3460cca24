// gRPC's warnings (a peer's failed TLS handshake, a plaintext request to a TLS port) reach the
// process's log at most kGrpcWarningsPerMinute a minute, however fast a peer provokes them.
#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

TEST(GrpcLoggingTest, ABurstOfWarningsIsBoundedAndItsErrorsAreWarnings) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  sink->set_pattern("%l %v");
  spdlog::default_logger()->sinks().push_back(sink);
  RouteGrpcLogsToSpdlog();
  for (int i = 0; i < 3 * kGrpcWarningsPerMinute; ++i) {
    gpr_log(GPR_ERROR, "Handshake failed with fatal error SSL_ERROR_SSL %d", i);
  }
  SilenceGrpcLogs();
  spdlog::default_logger()->sinks().pop_back();
  const std::vector<std::string> lines = absl::StrSplit(log.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kGrpcWarningsPerMinute)) << log.str();
  EXPECT_EQ(lines[0], "warning grpc: Handshake failed with fatal error SSL_ERROR_SSL 0");
}

}  // namespace
}  // namespace polytrain
