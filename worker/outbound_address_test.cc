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

// A data-parallel rank's transport binds to its advertised address: one of another machine is
// refused when the worker starts (probe CA: it failed only in a gang, and stalled its peer).
TEST(OutboundAddressTest, OnlyThisMachinesAddressesAreItsOwn) {
  EXPECT_TRUE(CheckAddressOfThisMachine("127.0.0.1").ok());
  EXPECT_TRUE(CheckAddressOfThisMachine("localhost").ok());
  const absl::Status elsewhere = CheckAddressOfThisMachine("192.0.2.1");  // TEST-NET-1
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(elsewhere.message(),
            "192.0.2.1 is not an address of this machine (binding to it: Cannot assign "
            "requested address)");
  EXPECT_EQ(CheckAddressOfThisMachine("no-such-host.invalid").code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace polytrain
