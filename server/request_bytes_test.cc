#include "server/request_bytes.h"

#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {
namespace {

// As the Coordinator service parses a client's request.
absl::Status ParseAsClient(const grpc::ByteBuffer& bytes, google::protobuf::Message* request) {
  return ParseRequest(bytes, request, UnknownFields::kRefuse);
}

grpc::ByteBuffer Bytes(const std::string& data) {
  grpc::Slice slice(data);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(RequestBytesTest, ARequestRoundTrips) {
  polytrain::v1::GetJobRequest request;
  request.set_id("job-1");
  grpc::ByteBuffer bytes;
  ASSERT_TRUE(SerializeResponse(request, &bytes).ok());
  polytrain::v1::GetJobRequest parsed;
  ASSERT_TRUE(ParseAsClient(bytes, &parsed).ok());
  EXPECT_EQ(parsed.id(), "job-1");
}

TEST(RequestBytesTest, AStringThatIsNotUtf8IsInvalidArgumentNamingTheField) {
  // Field 1 (id), length 2, bytes 0xff 0xfe: not UTF-8, which proto3 strings must be.
  polytrain::v1::GetJobRequest request;
  const absl::Status status = ParseAsClient(Bytes(std::string("\x0a\x02\xff\xfe", 4)), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "id: is not valid UTF-8 (every text field must be)");
}

TEST(RequestBytesTest, TextThatIsNotUtf8IsNamedByItsPathInTheRequest) {
  const std::string bad("\xff\xfe", 2);
  polytrain::v1::SubmitJobRequest submit;
  // spec { name: <bad> }: a nested field.
  EXPECT_EQ(ParseAsClient(Bytes(std::string("\x0a\x04\x0a\x02", 4) + bad), &submit).message(),
            "spec.name: is not valid UTF-8 (every text field must be)");
  // spec { labels { key: "k" value: <bad> } }, then the same with the bad bytes as the key.
  EXPECT_EQ(ParseAsClient(Bytes(std::string("\x0a\x09\x12\x07\x0a\x01k\x12\x02", 9) + bad), &submit)
                .message(),
            "spec.labels[\"k\"]: is not valid UTF-8 (every text field must be)");
  // The value before its key (any order parses): the key is not known yet.
  EXPECT_EQ(
      ParseAsClient(Bytes(std::string("\x0a\x09\x12\x07\x12\x02", 6) + bad + "\x0a\x01k"), &submit)
          .message(),
      "spec.labels (a value): is not valid UTF-8 (every text field must be)");
  EXPECT_EQ(
      ParseAsClient(Bytes(std::string("\x0a\x06\x12\x04\x0a\x02", 6) + bad), &submit).message(),
      "spec.labels (a key): is not valid UTF-8 (every text field must be)");
  // job_ids: ["a", <bad>]: a repeated field's index; fields of other wire types are skipped.
  polytrain::v1::CompareJobsRequest compare;
  EXPECT_EQ(ParseAsClient(Bytes(std::string("\x0a\x01"
                                            "a"
                                            "\x0a\x02",
                                            5) +
                                bad),
                          &compare)
                .message(),
            "job_ids[1]: is not valid UTF-8 (every text field must be)");
}

TEST(RequestBytesTest, TruncatedBytesAreInvalidArgument) {
  polytrain::v1::GetJobRequest request;
  const absl::Status status = ParseAsClient(Bytes(std::string("\x0a\x05"
                                                              "ab",
                                                              4)),
                                            &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "request: not a valid polytrain.v1.GetJobRequest: the bytes are not this message "
            "(truncated or malformed)");
}

TEST(RequestBytesTest, AFieldSentWithAnotherWireTypeIsNamedNotTakenAsUnset) {
  // Field 1 (spec, a message) sent as the varint 1: protobuf keeps it as an unknown field.
  polytrain::v1::SubmitJobRequest request;
  absl::Status status = ParseAsClient(Bytes(std::string("\x08\x01", 2)), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "spec: sent as a varint, but it is a polytrain.v1.JobSpec (field 1)");
  // Inside: spec { name (field 1, a string) as the 64-bit value 0 }.
  status = ParseAsClient(Bytes(std::string("\x0a\x09\x09\0\0\0\0\0\0\0\0", 11)), &request);
  EXPECT_EQ(status.message(), "spec.name: sent as a 64-bit value, but it is string (field 1)");
}

TEST(RequestBytesTest, AFieldTheMessageDoesNotHaveIsRefusedWhereItIsOrDroppedForAWorker) {
  // Field 1000 (the varint 1) beside the spec: a newer client's.
  polytrain::v1::SubmitJobRequest request;
  absl::Status status = ParseAsClient(Bytes(std::string("\xc0\x3e\x01", 3)), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "request: has field 1000 (a varint), which this coordinator's "
            "polytrain.v1.SubmitJobRequest does not have: from a newer client? Its value would be "
            "ignored, so the request is refused: leave it out, or upgrade the coordinator");
  // Inside: spec { schedule { (field 4, a newer schedule kind) {} } }, named by its path.
  status = ParseAsClient(Bytes(std::string("\x0a\x04\x3a\x02\x22\x00", 6)), &request);
  EXPECT_EQ(status.message().substr(0, 103),
            "spec.schedule: has field 4 (length-delimited bytes), which this coordinator's "
            "polytrain.v1.ScheduleSpec")
      << status.message();
  // A worker's message of a newer version: dropped, as proto3 peers expect.
  ASSERT_TRUE(
      ParseRequest(Bytes(std::string("\xc0\x3e\x01", 3)), &request, UnknownFields::kDrop).ok());
  EXPECT_FALSE(request.has_spec());
  EXPECT_TRUE(request.GetReflection()->GetUnknownFields(request).empty());
}

}  // namespace
}  // namespace polytrain
