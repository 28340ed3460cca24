#include "worker/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<void()> before_scrape) {
  const size_t colon = address.rfind(':');
  int port = -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535 ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen: expected IPV4:PORT, got '", address, "'"));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 16) != 0) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::InvalidArgumentError(absl::StrCat("--metrics_listen ", address, ": ", error));
  }
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(
      fd, ntohs(addr.sin_port), std::move(registry), std::move(before_scrape)));
}

MetricsHttpServer::MetricsHttpServer(int fd, int port,
                                     std::shared_ptr<prometheus::Registry> registry,
                                     std::function<void()> before_scrape)
    : fd_(fd),
      port_(port),
      registry_(std::move(registry)),
      before_scrape_(std::move(before_scrape)) {
  thread_ = std::thread([this] { Serve(); });
}

MetricsHttpServer::~MetricsHttpServer() {
  stopping_ = true;
  thread_.join();
  close(fd_);
}

void MetricsHttpServer::Serve() {
  while (!stopping_) {
    pollfd listener{fd_, POLLIN, 0};
    if (poll(&listener, 1, 200) <= 0) continue;  // wakes up to notice stopping_
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    char request[2048];
    pollfd readable{client, POLLIN, 0};
    ssize_t n = poll(&readable, 1, 2000) > 0 ? read(client, request, sizeof(request) - 1) : -1;
    std::string response;
    if (n > 0 && std::strncmp(request, "GET /metrics", 12) == 0) {
      if (before_scrape_) before_scrape_();
      const std::string body = prometheus::TextSerializer().Serialize(registry_->Collect());
      response = absl::StrCat(
          "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ",
          body.size(), "\r\n\r\n", body);
    } else {
      response = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    for (size_t sent = 0; sent < response.size();) {
      const ssize_t w = write(client, response.data() + sent, response.size() - sent);
      if (w <= 0) break;
      sent += static_cast<size_t>(w);
    }
    close(client);
  }
}

}  // namespace polytrain
