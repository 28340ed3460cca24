// A TCP socket listening on an address of this machine: the /metrics endpoint's, and the store
// a data-parallel gang's rank 0 opens with LibTorch 2.x.
#ifndef POLYTRAIN_COMMON_LISTEN_SOCKET_H_
#define POLYTRAIN_COMMON_LISTEN_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"

namespace polytrain {

struct ListeningSocket {
  int fd = -1;  // close-on-exec; the caller's to close or to hand on
  int port = 0;
};

// Listens on `host` (an address or a name of this machine, an IPv6 address without brackets) at
// `port` (0: the system picks a free one), with SO_REUSEADDR and a queue of `backlog`. Each
// address the name has is tried in getaddrinfo's order until one binds: "localhost" may give ::1
// first on a host without IPv6, where 127.0.0.1 then serves.
// Errors: NOT_FOUND where `host` resolves to nothing (the resolver's words); UNAVAILABLE where the
// resolver could not answer now, or no address binds and listens, its message the reason alone
// ("the port is in use", "the address is not this machine's", or the system's words), for the
// caller to say what was listening.
absl::StatusOr<ListeningSocket> ListenTcp(const std::string& host, int port, int backlog);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_LISTEN_SOCKET_H_
