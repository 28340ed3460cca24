// gRPC's own log lines (a failed TLS handshake of some peer, a refused connection) through the
// process's spdlog logger, so that --log_format json stays one JSON object per line; its
// warnings at most kGrpcWarningsPerMinute a minute, then counted.
#ifndef POLYTRAIN_COMMON_GRPC_LOGGING_H_
#define POLYTRAIN_COMMON_GRPC_LOGGING_H_

namespace polytrain {

// gRPC's warnings written in a minute at most (then counted): a peer provokes them at will.
inline constexpr int kGrpcWarningsPerMinute = 10;

// Call after InitLogging, before gRPC logs anything worth keeping.
void RouteGrpcLogsToSpdlog();
// Drops gRPC's own log lines: for a command-line client, which reports each failed call's
// status itself (a raw "Handshake failed" line on stderr would only repeat it, less clearly).
void SilenceGrpcLogs();

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_GRPC_LOGGING_H_
