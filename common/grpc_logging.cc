#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

void ToSpdlog(gpr_log_func_args* args) {
  // gRPC's errors are about peers and connections, rarely this process's: warnings here.
  const spdlog::level::level_enum level =
      args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::warn
      : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                : spdlog::level::debug;
  spdlog::log(level, "grpc: {}", args->message != nullptr ? args->message : "");
}

}  // namespace

void RouteGrpcLogsToSpdlog() { gpr_set_log_function(&ToSpdlog); }

void SilenceGrpcLogs() {
  gpr_set_log_function([](gpr_log_func_args*) {});
}

}  // namespace polytrain
