#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/rate_limited_log.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// gRPC's own account of a port it could not bind: the caller says the same in words, naming
// its flag, so this one is for debugging only.
constexpr absl::string_view kBindFailure = "UNKNOWN:No address added out of total";

// gRPC's warnings are mostly about peers (a failed TLS handshake, a plaintext request to a TLS
// port), which anyone who reaches the port can provoke as fast as it connects: at most
// kGrpcWarningsPerMinute a minute, then a count.
RateLimitedLog& GrpcWarnings() {
  // Never destroyed: a count written from a static destructor could outlive spdlog's logger.
  static RateLimitedLog* const log =
      new RateLimitedLog([](const std::string& line) { spdlog::warn("{}", line); },
                         [](int64_t unwritten, int written) {
                           return absl::StrCat("grpc: ", unwritten,
                                               " more of its warnings (failed handshakes, "
                                               "refused connections) since ",
                                               written, " were logged (not each logged)");
                         },
                         kGrpcWarningsPerMinute, std::chrono::minutes(1));
  return *log;
}

void ToSpdlog(gpr_log_func_args* args) {
  const absl::string_view message = args->message != nullptr ? args->message : "";
  // gRPC's errors are about peers and connections, rarely this process's: warnings here.
  if (args->severity == GPR_LOG_SEVERITY_ERROR && !absl::StartsWith(message, kBindFailure)) {
    GrpcWarnings().Write([&] { return absl::StrCat("grpc: ", message); });
    return;
  }
  const spdlog::level::level_enum level =
      args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "grpc: {}", std::string(message));
}

}  // namespace

void RouteGrpcLogsToSpdlog() { gpr_set_log_function(&ToSpdlog); }

void SilenceGrpcLogs() {
  gpr_set_log_function([](gpr_log_func_args*) {});
}

}  // namespace polytrain
