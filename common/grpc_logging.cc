#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// gRPC's own account of a port it could not bind: the caller says the same in words, naming
// its flag, so this one is for debugging only.
constexpr absl::string_view kBindFailure = "UNKNOWN:No address added out of total";

void ToSpdlog(gpr_log_func_args* args) {
  const absl::string_view message = args->message != nullptr ? args->message : "";
  // gRPC's errors are about peers and connections, rarely this process's: warnings here.
  spdlog::level::level_enum level = args->severity == GPR_LOG_SEVERITY_ERROR ? spdlog::level::warn
                                    : args->severity == GPR_LOG_SEVERITY_INFO
                                        ? spdlog::level::info
                                        : spdlog::level::debug;
  if (absl::StartsWith(message, kBindFailure)) level = spdlog::level::debug;
  spdlog::log(level, "grpc: {}", std::string(message));
}

}  // namespace

void RouteGrpcLogsToSpdlog() { gpr_set_log_function(&ToSpdlog); }

void SilenceGrpcLogs() {
  gpr_set_log_function([](gpr_log_func_args*) {});
}

}  // namespace polytrain
