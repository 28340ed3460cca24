#include "common/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

// Connects to 127.0.0.1:port; true where `listener` accepts the connection.
bool ConnectsAndIsAccepted(int listener, int port) {
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const bool connected = connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  const int accepted = connected ? accept(listener, nullptr, nullptr) : -1;
  if (accepted >= 0) close(accepted);
  close(client);
  return accepted >= 0;
}

TEST(ListenTcpTest, ListensAtAPortTheSystemPicksClosedOnExec) {
  absl::StatusOr<ListeningSocket> listening = ListenTcp("127.0.0.1", 0, 4);
  ASSERT_TRUE(listening.ok()) << listening.status();
  EXPECT_GT(listening->port, 0);
  EXPECT_NE(fcntl(listening->fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(ConnectsAndIsAccepted(listening->fd, listening->port));
  close(listening->fd);
}

TEST(ListenTcpTest, ANameListensOnOneOfItsAddresses) {
  // "localhost" may give ::1 first; whichever binds serves.
  absl::StatusOr<ListeningSocket> listening = ListenTcp("localhost", 0, 4);
  ASSERT_TRUE(listening.ok()) << listening.status();
  EXPECT_GT(listening->port, 0);
  close(listening->fd);
}

TEST(ListenTcpTest, SaysWhyItCannotListen) {
  absl::StatusOr<ListeningSocket> first = ListenTcp("127.0.0.1", 0, 4);
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::Status taken = ListenTcp("127.0.0.1", first->port, 4).status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable) << taken;
  EXPECT_EQ(taken.message(), "the port is in use");
  close(first->fd);

  const absl::Status elsewhere = ListenTcp("192.0.2.1", 0, 4).status();  // TEST-NET-1
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kUnavailable) << elsewhere;
  EXPECT_EQ(elsewhere.message(), "the address is not this machine's");

  const absl::Status nowhere = ListenTcp("no-such-host.invalid", 0, 4).status();
  EXPECT_EQ(nowhere.code(), absl::StatusCode::kNotFound) << nowhere;
  EXPECT_FALSE(nowhere.message().empty());
}

}  // namespace
}  // namespace polytrain
