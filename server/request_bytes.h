// Requests read from, and responses written to, gRPC's raw bytes. The Coordinator service
// receives its requests as bytes so that a request protobuf cannot parse (truncated, or a string
// field that is not UTF-8) is answered INVALID_ARGUMENT naming what is wrong: gRPC 1.51's typed
// callback handlers answer those UNIMPLEMENTED with no message. A field this coordinator does not
// know (from a newer client: a training option, a filter, a oneof's new member) is refused,
// naming where it was, rather than dropped while the request goes on without it; a worker's
// (a newer worker's Hello) is dropped. Either way none is stored or echoed.
#ifndef POLYTRAIN_SERVER_REQUEST_BYTES_H_
#define POLYTRAIN_SERVER_REQUEST_BYTES_H_

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace polytrain {

// What becomes of a field number the message does not have (nor reserves): a client's is
// refused, a worker's dropped.
enum class UnknownFields { kRefuse, kDrop };

// INVALID_ARGUMENT when the bytes do not parse: "<path>: is not valid UTF-8 ..." naming a text
// field by its path in the request ("spec.labels (a value)", "job_ids[1]"), else "request: not a
// valid <type>: <why>" with protobuf's own complaint as the why when it has one; with kRefuse,
// also for a field number the message does not have ("spec.schedule: has field 4
// (length-delimited bytes), which this coordinator's polytrain.v1.ScheduleSpec does not have:
// ...").
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request,
                          UnknownFields unknown);

// INTERNAL only when serializing fails (a message over 2 GiB).
absl::Status SerializeResponse(const google::protobuf::Message& response, grpc::ByteBuffer* bytes);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_REQUEST_BYTES_H_
