// Requests read from, and responses written to, gRPC's raw bytes. The Coordinator service
// receives its requests as bytes so that a request protobuf cannot parse (truncated, or a string
// field that is not UTF-8) is answered INVALID_ARGUMENT naming what is wrong: gRPC 1.51's typed
// callback handlers answer those UNIMPLEMENTED with no message. Unknown fields (from a newer
// client) are dropped on parsing, as proto3 peers expect, so they are never stored or echoed.
#ifndef POLYTRAIN_SERVER_REQUEST_BYTES_H_
#define POLYTRAIN_SERVER_REQUEST_BYTES_H_

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace polytrain {

// INVALID_ARGUMENT when the bytes do not parse: "<path>: is not valid UTF-8 ..." naming a text
// field by its path in the request ("spec.labels (a value)", "job_ids[1]"), else "request: not a
// valid <type>: <why>" with protobuf's own complaint as the why when it has one.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request);

// INTERNAL only when serializing fails (a message over 2 GiB).
absl::Status SerializeResponse(const google::protobuf::Message& response, grpc::ByteBuffer* bytes);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_REQUEST_BYTES_H_
