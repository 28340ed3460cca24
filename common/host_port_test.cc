#include "common/host_port.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(SplitHostPortTest, TakesAHostAndAPortWithoutBracketsOrScheme) {
  absl::StatusOr<HostPort> v4 = SplitHostPort("--listen", "127.0.0.1:50051", 0, "");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 50051);
  absl::StatusOr<HostPort> v6 = SplitHostPort("--listen", "[::1]:0", 0, "");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");  // the brackets go
  EXPECT_EQ(v6->port, 0);
  absl::StatusOr<HostPort> named =
      SplitHostPort("--coordinator", "dns:///coord.example:443", 1, "");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->host, "coord.example");
  EXPECT_EQ(WithoutScheme("ipv4:10.0.0.1:5"), "10.0.0.1:5");
}

TEST(SplitHostPortTest, RefusesListsBarePortsAndPortsOutOfRange) {
  for (const char* bad : {"a:1,b:2", "ipv4:127.0.0.1:5,10.0.0.1:5", ":80", "::1:80", "[::1]",
                          "host", "host:", "host:+5", "host:65536", "host:0", "a b:1"}) {
    const absl::Status refused = SplitHostPort("--coordinator", bad, 1, "(e.g. h:1)").status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(refused.message(),
              std::string("--coordinator: expected HOST:PORT with a port in [1, 65535] (e.g. "
                          "h:1), got '") +
                  bad + "'")
        << bad;
  }
  // The address is quoted at most 256 characters long.
  const std::string long_host(1000, 'h');
  EXPECT_EQ(
      SplitHostPort("--listen", long_host, 0, "").status().message().size(),
      std::string("--listen: expected HOST:PORT with a port in [0, 65535] , got ''").size() + 256);
}

TEST(CheckHostPortTest, AListenAddressMayAskForAnyPortAndUnixSocketsPass) {
  EXPECT_TRUE(CheckHostPort("--listen", "0.0.0.0:0", 0, "(0 picks a free one)").ok());
  EXPECT_TRUE(CheckHostPort("--listen", "[::]:65535", 0, "(0 picks a free one)").ok());
  EXPECT_TRUE(CheckHostPort("--listen", "unix:/tmp/socket", 0, "").ok());
  EXPECT_EQ(CheckHostPort("--listen", "0.0.0.0:65536", 0, "(0 picks a free one)").message(),
            "--listen: expected HOST:PORT with a port in [0, 65535] (0 picks a free one), got "
            "'0.0.0.0:65536'");
}

}  // namespace
}  // namespace polytrain
