#include "common/metrics_http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/host_port.h"
#include "common/listen_socket.h"
#include "prometheus/text_serializer.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<void()> before_scrape) {
  // HOST:PORT or [IPV6]:PORT as --listen takes it, the host a name or an address of this machine.
  constexpr absl::string_view kHelp =
      "(e.g. 127.0.0.1:9464, [::1]:9464; 0 picks a free port; '' turns /metrics off)";
  absl::StatusOr<HostPort> where = SplitHostPort("--metrics_listen", address, 0, kHelp);
  if (!where.ok()) return where.status();
  absl::StatusOr<ListeningSocket> listening = ListenTcp(where->host, where->port, kMaxConnections);
  if (absl::IsNotFound(listening.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen ", address, ": not an address or a name of this machine"));
  }
  if (!listening.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen ", address, ": cannot listen there: ", listening.status().message(),
        " ('' turns /metrics off)"));
  }
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(
      listening->fd, listening->port, std::move(registry), std::move(before_scrape)));
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

std::string MetricsHttpServer::Respond(const std::string& request) {
  // "METHOD TARGET VERSION"; the target may carry a query, which is ignored, and be in absolute
  // form ("http://host:port/metrics", as a client speaking to a proxy sends it; RFC 9112 3.2.2).
  const std::string line = request.substr(0, request.find_first_of("\r\n"));
  const std::vector<std::string> words = absl::StrSplit(line, ' ');
  std::string path = words.size() == 3 ? words[1].substr(0, words[1].find('?')) : std::string();
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWithIgnoreCase(path, scheme)) {
      const size_t slash = path.find('/', scheme.size());
      path = slash == std::string::npos ? "/" : path.substr(slash);
    }
  }
  if (words.size() != 3 || !absl::StartsWith(words[2], "HTTP/")) {
    return "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  }
  if (path != "/metrics") return "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  if (words[0] != "GET" && words[0] != "HEAD") {
    return "HTTP/1.0 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n";
  }
  if (before_scrape_) before_scrape_();
  const std::string body = prometheus::TextSerializer().Serialize(registry_->Collect());
  return absl::StrCat(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ", body.size(),
      "\r\n\r\n", words[0] == "GET" ? body : "");
}

namespace {

struct Connection {
  int fd;
  std::string request;
  std::chrono::steady_clock::time_point deadline;
};

void SendAndClose(int fd, const std::string& response) {
  for (size_t sent = 0; sent < response.size();) {
    // MSG_NOSIGNAL: a client gone away must not raise SIGPIPE.
    const ssize_t w = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  shutdown(fd, SHUT_WR);
  close(fd);
}

}  // namespace

void MetricsHttpServer::Serve() {
  std::vector<Connection> open;  // oldest first
  while (!stopping_) {
    std::vector<pollfd> fds{{fd_, POLLIN, 0}};
    for (const Connection& c : open) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 200) < 0) continue;  // wakes up to notice stopping_
    const auto now = std::chrono::steady_clock::now();
    std::vector<Connection> still_open;
    for (size_t k = 0; k < open.size(); ++k) {
      Connection& c = open[k];
      if ((fds[k + 1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char chunk[4096];
        const ssize_t n = recv(c.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          still_open.push_back(c);
          continue;
        }
        if (n <= 0) {  // closed or reset before a whole request
          close(c.fd);
          continue;
        }
        c.request.append(chunk, static_cast<size_t>(n));
        if (c.request.find("\r\n\r\n") != std::string::npos ||
            c.request.find("\n\n") != std::string::npos) {
          SendAndClose(c.fd, Respond(c.request));
          continue;
        }
        if (c.request.size() > kMaxRequestBytes) {
          SendAndClose(c.fd,
                       "HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
          continue;
        }
      }
      if (now >= c.deadline) {
        SendAndClose(c.fd, "HTTP/1.0 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
        continue;
      }
      still_open.push_back(c);
    }
    open = std::move(still_open);
    if ((fds[0].revents & POLLIN) != 0) {
      const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        // A client that does not read its response holds the thread at most this long.
        const timeval send_timeout{2, 0};
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
        if (open.size() >= static_cast<size_t>(kMaxConnections)) {  // the oldest makes room
          close(open.front().fd);
          open.erase(open.begin());
        }
        open.push_back({client, std::string(),
                        now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(kRequestSeconds))});
      }
    }
  }
  for (const Connection& c : open) close(c.fd);
}

}  // namespace polytrain
