#include "worker/rendezvous_address.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace polytrain {

absl::StatusOr<HostPort> SplitAddress(const std::string& address) {
  return SplitHostPort("rendezvous", address, 1, "(rank 0's address, as the coordinator sent it)");
}

std::string WithPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

absl::Status AwaitListening(const HostPort& address, const std::string& text, int rank,
                            std::chrono::steady_clock::time_point deadline,
                            std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  std::string last_error = "no answer";
  while (true) {
    if (Cancelled(cancel)) return absl::CancelledError("cancelled while joining the gang");
    addrinfo* found = nullptr;
    const int resolved =
        getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(), &hints, &found);
    if (resolved != 0) {
      last_error = gai_strerror(resolved);
    } else {
      for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int error = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
        if (error == EINPROGRESS) {
          pollfd writable{fd, POLLOUT, 0};
          socklen_t length = sizeof(error);
          error = poll(&writable, 1, 100) == 1 &&
                          getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0
                      ? error
                      : ETIMEDOUT;
        }
        close(fd);
        if (error == 0) {
          freeaddrinfo(found);
          return absl::OkStatus();
        }
        last_error = std::strerror(error);
      }
      freeaddrinfo(found);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("rank ", rank, " could not reach rank 0's rendezvous at ", text, " within ",
                       timeout.count() / 1000.0, " s: ", last_error));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace polytrain
