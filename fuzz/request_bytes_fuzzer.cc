// Fuzzes ParseRequest (server/request_bytes.h): the bytes of every request and of every message
// on the worker stream go through it before anything else reads them, so it meets whatever a
// hostile client sends, and its hand-written walk over the wire format (which names a text field
// that is not UTF-8 by its path) must stop safely on any bytes.
//
// Input: byte 0 picks the message the rest is parsed as (modulo the list below).
//
// Rules checked (a violation traps): the answer is OK or INVALID_ARGUMENT with a message that is
// valid UTF-8 (it goes into a grpc-status-details header and the caller's terminal) and bounded;
// a request that parses serializes and parses back to the same message.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/utf8_text.h"
#include "fuzz/fuzz_checks.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/support/byte_buffer.h"
#include "polytrain/v1/coordinator.pb.h"
#include "polytrain/v1/worker.pb.h"
#include "server/request_bytes.h"

namespace {

std::unique_ptr<google::protobuf::Message> NewMessage(uint8_t pick) {
  switch (pick % 6) {
    case 0:
      return std::make_unique<polytrain::v1::SubmitJobRequest>();
    case 1:
      return std::make_unique<polytrain::v1::SubmitSweepRequest>();
    case 2:
      return std::make_unique<polytrain::v1::CompareJobsRequest>();
    case 3:
      return std::make_unique<polytrain::v1::ListJobsRequest>();
    case 4:
      return std::make_unique<polytrain::v1::WorkerMessage>();
    default:
      return std::make_unique<polytrain::v1::ArtifactChunk>();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::unique_ptr<google::protobuf::Message> request = NewMessage(data[0]);
  grpc::Slice slice(data + 1, size - 1);
  const grpc::ByteBuffer bytes(&slice, 1);
  // A worker's messages drop the fields they do not have, a client's requests refuse them.
  const polytrain::UnknownFields unknown =
      data[0] % 6 >= 4 ? polytrain::UnknownFields::kDrop : polytrain::UnknownFields::kRefuse;
  const absl::Status status = polytrain::ParseRequest(bytes, request.get(), unknown);
  if (!status.ok()) {
    POLYTRAIN_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
    POLYTRAIN_FUZZ_CHECK(!status.message().empty(), "an empty message");
    POLYTRAIN_FUZZ_CHECK(polytrain::IsValidUtf8(status.message()), "a message that is not UTF-8");
    POLYTRAIN_FUZZ_CHECK(status.message().size() <= 1024, status.ToString());
    return 0;
  }
  std::string again;
  POLYTRAIN_FUZZ_CHECK(request->SerializeToString(&again), "does not serialize");
  std::unique_ptr<google::protobuf::Message> reparsed(request->New());
  POLYTRAIN_FUZZ_CHECK(reparsed->ParseFromString(again), "does not parse back");
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);  // a NaN sent is a NaN kept; checks come later
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  POLYTRAIN_FUZZ_CHECK(differencer.Compare(*request, *reparsed), "differs after a round trip");
  return 0;
}
