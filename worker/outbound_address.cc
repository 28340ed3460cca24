#include "worker/outbound_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace polytrain {

absl::StatusOr<std::string> OutboundAddressTo(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected host:port, got '", host_port, "'"));
  }
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); error != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", host, ": ", gai_strerror(error)));
  }
  std::string address;
  std::string why = "no address";
  for (addrinfo* ai = found; ai != nullptr && address.empty(); ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw =
          local.ss_family == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&local)->sin6_addr)
              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&local)->sin_addr);
      if (inet_ntop(local.ss_family, raw, text, sizeof(text)) != nullptr) address = text;
    } else {
      why = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (address.empty()) {
    return absl::UnavailableError(absl::StrCat("no route to ", host, ": ", why));
  }
  return address;
}

absl::Status CheckAddressOfThisMachine(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int error = getaddrinfo(host.c_str(), "0", &hints, &found); error != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", host, ": ", gai_strerror(error)));
  }
  bool bound = false;
  std::string why = "no address";
  for (addrinfo* ai = found; ai != nullptr && !bound; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0) continue;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      bound = true;
    } else {
      why = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (!bound) {
    return absl::InvalidArgumentError(
        absl::StrCat(host, " is not an address of this machine (binding to it: ", why, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckAdvertiseAddressForm(const std::string& address) {
  const auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--advertise_address ", address, ": ", why));
  };
  if (address.empty()) {
    return absl::InvalidArgumentError(
        "--advertise_address: empty; leave the flag out for the route's address");
  }
  in6_addr v6{};
  in_addr v4{};
  // A link-local v6 address may carry its interface: fe80::1%eth0.
  const std::string unscoped = address.substr(0, address.find('%'));
  const bool is_v6 = inet_pton(AF_INET6, unscoped.c_str(), &v6) == 1;
  if (address.find_first_of("[]") != std::string::npos ||
      (address.find(':') != std::string::npos && !is_v6)) {
    return refuse(
        "a host name or IP address, without brackets or a port (an IPv6 address as ::1, not "
        "[::1]; the gang picks its ports)");
  }
  const bool unspecified_v4 =
      inet_pton(AF_INET, address.c_str(), &v4) == 1 && v4.s_addr == htonl(INADDR_ANY);
  if (unspecified_v4 || (is_v6 && IN6_IS_ADDR_UNSPECIFIED(&v6))) {
    return refuse("the unspecified address, which no peer can reach; give this machine's address");
  }
  return absl::OkStatus();
}

absl::Status CheckAdvertiseAddress(const std::string& address, bool cuda_worker) {
  const absl::Status s = CheckAddressOfThisMachine(address);
  if (absl::IsInvalidArgument(s) && !cuda_worker) {
    return absl::InvalidArgumentError(
        absl::StrCat("--advertise_address: ", s.message(),
                     "; give an address of this machine that the other workers reach"));
  }
  if (absl::IsInvalidArgument(s)) {
    spdlog::warn("--advertise_address: {}: a gang of CPU tensors (Gloo) fails on it",
                 std::string(s.message()));
  } else if (!s.ok()) {
    spdlog::warn("--advertise_address: {} (tried again at each data-parallel job)",
                 std::string(s.message()));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
