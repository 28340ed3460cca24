// A TCP proxy on 127.0.0.1 for fault tests: forwards every connection to a target port, and can
// cut every connection at once (and refuse new ones) until restored, or be pointed at another
// target (a restarted server on a new port). A cut is a real one: both sockets are shut down,
// so each side sees its connection end exactly as when a network path fails. Frozen, it keeps
// every connection open and moves nothing, as a hung host.
#ifndef POLYTRAIN_TESTING_TCP_PROXY_H_
#define POLYTRAIN_TESTING_TCP_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace polytrain::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(0);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 64);
    socklen_t length = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpProxy() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    CutAll();
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pumps.swap(pumps_);
    }
    for (std::thread& pump : pumps) pump.join();
    close(listen_fd_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void SetTarget(int port) { target_port_ = port; }
  // Connections accepted and forwarded so far.
  int forwarded() const { return forwarded_; }

  // Ends every open connection; new ones are closed at once until Restore().
  void Cut() {
    cut_ = true;
    CutAll();
  }
  void Restore() { cut_ = false; }

  // Stops moving bytes either way while keeping every connection open, as a host that hangs or
  // a network that drops packets without a word: only keepalive pings can tell.
  void Freeze() { frozen_ = true; }
  void Thaw() { frozen_ = false; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    return addr;
  }

  void AcceptLoop() {
    while (!stopping_) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;  // shut down: the loop condition ends it
      if (cut_ || stopping_) {
        close(client);
        continue;
      }
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = Loopback(target_port_);
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(server);
        close(client);
        continue;
      }
      ++forwarded_;
      std::lock_guard<std::mutex> lock(mu_);
      open_.insert(client);
      open_.insert(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Copies bytes both ways until either side ends (or is shut down by a cut).
  void Pump(int a, int b) {
    char buffer[65536];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    bool open = true;
    int ready;
    while (open && (ready = poll(fds, 2, 50)) >= 0) {
      if (ready == 0 || frozen_) {
        // Frozen: the bytes wait in the kernel's buffers (a cut still ends the connection).
        if (frozen_ && (fds[0].revents | fds[1].revents) & (POLLHUP | POLLERR | POLLNVAL)) break;
        if (frozen_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        open = n > 0 && WriteAll(fds[1 - i].fd, buffer, static_cast<size_t>(n));
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : {a, b}) {
      shutdown(fd, SHUT_RDWR);
      close(fd);
      open_.erase(fd);
    }
  }

  static bool WriteAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);  // a closed peer: false, not SIGPIPE
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  void CutAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }

  std::atomic<int> target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<int> forwarded_{0};
  std::mutex mu_;
  std::set<int> open_;  // sockets of live connections, under mu_
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_TCP_PROXY_H_
