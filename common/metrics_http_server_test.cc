// The worker's /metrics endpoint over real sockets: what it answers, and that clients which say
// nothing, send too much or reset the connection neither delay a scrape nor stop the server.
#include "common/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/gauge.h"

namespace polytrain {
namespace {

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<prometheus::Registry>();
    prometheus::BuildGauge().Name("test_gauge").Help("a gauge").Register(*registry_).Add({}).Set(7);
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start("127.0.0.1:0", registry_, [this] { ++scrapes_; });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  int Connect() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  // Sends `request` in one piece and reads the whole answer; a server that has not answered
  // within 3 s (it should in milliseconds) gives "".
  std::string Exchange(const std::string& request) const {
    const int fd = Connect();
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string answer;
    char chunk[4096];
    pollfd readable{fd, POLLIN, 0};
    while (poll(&readable, 1, 3000) > 0) {
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      answer.append(chunk, static_cast<size_t>(n));
    }
    close(fd);
    return answer;
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<int> scrapes_{0};  // counted on the server's thread
  std::unique_ptr<MetricsHttpServer> server_;
};

// Whether this host has an IPv6 loopback to listen on (a container may have none).
bool HasIpv6Loopback() {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::1", &addr.sin6_addr);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return bound;
}

// IPv6 and names listen as IPv4 does (the port of each is its own); what is not HOST:PORT is
// refused naming the flag.
TEST(MetricsHttpServerAddressTest, ListensOnIpv6AndNamesAndRefusesTheRest) {
  auto registry = std::make_shared<prometheus::Registry>();
  const bool ipv6 = HasIpv6Loopback();
  // "localhost" listens whichever of its addresses this host has.
  std::vector<std::string> addresses = {"localhost:0", "0.0.0.0:0"};
  if (ipv6) addresses.push_back("[::1]:0");
  for (const std::string& address : addresses) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start(address, registry);
    ASSERT_TRUE(server.ok()) << address << ": " << server.status();
    EXPECT_GT((*server)->port(), 0) << address;
  }
  if (ipv6) {
    const int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
        MetricsHttpServer::Start("[::1]:0", registry);
    ASSERT_TRUE(server.ok());
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>((*server)->port()));
    inet_pton(AF_INET6, "::1", &addr.sin6_addr);
    EXPECT_EQ(connect(v6, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(v6);
  }
  for (const char* address : {"::1:9464", "127.0.0.1", "127.0.0.1:65536", ":9464", "[::1]9464"}) {
    const absl::Status refused = MetricsHttpServer::Start(address, registry).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_EQ(refused.message().rfind(
                  "--metrics_listen: expected HOST:PORT with a port in [0, 65535]", 0),
              0u)
        << refused;
  }
}

TEST_F(MetricsHttpServerTest, AnswersGetAndHeadOfMetricsOnly) {
  const std::string get = Exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(get.substr(0, 15), "HTTP/1.0 200 OK");
  EXPECT_NE(get.find("\ntest_gauge 7"), std::string::npos) << get;
  EXPECT_EQ(scrapes_, 1);
  const std::string head = Exchange("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.substr(0, 15), "HTTP/1.0 200 OK");
  EXPECT_EQ(head.find("test_gauge"), std::string::npos) << head;
  EXPECT_EQ(Exchange("GET /metrics?x=1 HTTP/1.0\n\n").substr(0, 15), "HTTP/1.0 200 OK");
  // The absolute form a client sends through a proxy (RFC 9112 3.2.2): its path is what counts.
  EXPECT_EQ(Exchange("GET http://x:9464/metrics HTTP/1.1\r\n\r\n").substr(0, 15),
            "HTTP/1.0 200 OK");
  EXPECT_EQ(Exchange("GET HTTP://x/metrics?a=b HTTP/1.1\r\n\r\n").substr(0, 15), "HTTP/1.0 200 OK");
  for (const char* other :
       {"GET /metricsXYZ HTTP/1.1\r\n\r\n", "GET /metrics/../etc HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n", "GET http://x HTTP/1.1\r\n\r\n",
        "GET http://x/other HTTP/1.1\r\n\r\n"}) {
    EXPECT_EQ(Exchange(other).substr(0, 12), "HTTP/1.0 404") << other;
  }
  EXPECT_EQ(Exchange("POST /metrics HTTP/1.1\r\n\r\n").substr(0, 12), "HTTP/1.0 405");
  EXPECT_EQ(Exchange("garbage\r\n\r\n").substr(0, 12), "HTTP/1.0 400");
  EXPECT_EQ(Exchange(std::string(MetricsHttpServer::kMaxRequestBytes + 10, 'a')).substr(0, 12),
            "HTTP/1.0 431");
}

TEST_F(MetricsHttpServerTest, SilentAndResetClientsDelayNoScrape) {
  // Each of these held the old one-at-a-time server for 2 s: ten of them, 20 s.
  std::vector<int> silent;
  for (int i = 0; i < 10; ++i) silent.push_back(Connect());
  for (int i = 0; i < 5; ++i) {  // closed with a reset before saying anything
    const int fd = Connect();
    const linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
  }
  // A request that arrives in pieces is answered once it is whole.
  const int slow = Connect();
  ASSERT_EQ(send(slow, "GET /met", 8, MSG_NOSIGNAL), 8);
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\n\r\n").substr(0, 15), "HTTP/1.0 200 OK");
  ASSERT_EQ(send(slow, "rics HTTP/1.1\r\n\r\n", 17, MSG_NOSIGNAL), 17);
  char answer[16] = {};
  pollfd readable{slow, POLLIN, 0};
  ASSERT_GT(poll(&readable, 1, 3000), 0);
  EXPECT_EQ(recv(slow, answer, 15, MSG_WAITALL), 15);
  EXPECT_EQ(std::string(answer), "HTTP/1.0 200 OK");
  close(slow);
  for (int fd : silent) close(fd);
}

TEST_F(MetricsHttpServerTest, MoreConnectionsThanItKeepsCloseTheOldest) {
  std::vector<int> idle;
  for (int i = 0; i < MetricsHttpServer::kMaxConnections + 4; ++i) idle.push_back(Connect());
  EXPECT_EQ(Exchange("GET /metrics HTTP/1.1\r\n\r\n").substr(0, 15), "HTTP/1.0 200 OK");
  // The first was closed to make room: it reads the end of the stream.
  char byte = 0;
  pollfd readable{idle.front(), POLLIN, 0};
  ASSERT_GT(poll(&readable, 1, 3000), 0);
  EXPECT_LE(recv(idle.front(), &byte, 1, 0), 0);
  for (int fd : idle) close(fd);
}

}  // namespace
}  // namespace polytrain
