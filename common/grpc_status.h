// The one place an absl::Status becomes a grpc::Status (their codes share numbers).
#ifndef POLYTRAIN_COMMON_GRPC_STATUS_H_
#define POLYTRAIN_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace polytrain {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_GRPC_STATUS_H_
