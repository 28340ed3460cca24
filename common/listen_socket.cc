#include "common/listen_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace polytrain {

absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, int port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found);
      error != 0) {
    // A resolver that could not answer now is no verdict on the name.
    if (error == EAI_AGAIN) return absl::UnavailableError(gai_strerror(error));
    if (error == EAI_SYSTEM) return absl::UnavailableError(std::strerror(errno));
    return absl::NotFoundError(gai_strerror(error));
  }
  int fd = -1;
  int error = 0;
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    fd = socket(candidate->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
        break;
      }
    }
    if (error == 0 || errno == EADDRINUSE) error = errno;  // the first reason, or a port in use
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(error == EADDRINUSE      ? "the port is in use"
                                  : error == EADDRNOTAVAIL ? "the address is not this machine's"
                                                           : std::strerror(error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    const int why = errno;
    close(fd);
    return absl::UnavailableError(std::strerror(why));
  }
  const uint16_t bound_port = bound.ss_family == AF_INET6
                                  ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                  : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
  return ListeningSocket{fd, ntohs(bound_port)};
}

}  // namespace polytrain
