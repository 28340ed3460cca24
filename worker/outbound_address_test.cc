#include "worker/outbound_address.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(OutboundAddressTest, LoopbackIsReachedFromLoopback) {
  EXPECT_EQ(*OutboundAddressTo("127.0.0.1:50051"), "127.0.0.1");
  const std::string local = *OutboundAddressTo("localhost:50051");
  EXPECT_TRUE(local.rfind("127.", 0) == 0 || local == "::1") << local;
}

TEST(OutboundAddressTest, BadAddressesSaySo) {
  EXPECT_EQ(OutboundAddressTo("no-port").status().code(), absl::StatusCode::kInvalidArgument);
  const absl::Status unresolved = OutboundAddressTo("no-such-host.invalid:1").status();
  EXPECT_EQ(unresolved.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(unresolved.message().find("resolving no-such-host.invalid"), std::string::npos)
      << unresolved;
}

}  // namespace
}  // namespace polytrain
