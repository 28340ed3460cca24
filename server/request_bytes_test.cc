#include "server/request_bytes.h"

#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {
namespace {

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
  ASSERT_TRUE(ParseRequest(bytes, &parsed).ok());
  EXPECT_EQ(parsed.id(), "job-1");
}

TEST(RequestBytesTest, AStringThatIsNotUtf8IsInvalidArgumentNamingTheField) {
  // Field 1 (id), length 2, bytes 0xff 0xfe: not UTF-8, which proto3 strings must be.
  polytrain::v1::GetJobRequest request;
  const absl::Status status = ParseRequest(Bytes(std::string("\x0a\x02\xff\xfe", 4)), &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "request: not a valid polytrain.v1.GetJobRequest: String field "
            "'polytrain.v1.GetJobRequest.id' contains invalid UTF-8 data when parsing a protocol "
            "buffer.");
}

TEST(RequestBytesTest, TruncatedBytesAreInvalidArgument) {
  polytrain::v1::GetJobRequest request;
  const absl::Status status = ParseRequest(Bytes(std::string("\x0a\x05"
                                                             "ab",
                                                             4)),
                                           &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "request: not a valid polytrain.v1.GetJobRequest: the bytes are not this message "
            "(truncated or malformed)");
}

}  // namespace
}  // namespace polytrain
