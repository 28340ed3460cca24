// HOST:PORT addresses as the flags take them (--listen, --coordinator, --metrics_listen): one
// parser, so that every flag accepts and refuses the same forms.
#ifndef POLYTRAIN_COMMON_HOST_PORT_H_
#define POLYTRAIN_COMMON_HOST_PORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

// "host:port" of "dns:///host:port", "ipv4:host:port" and the like.
absl::string_view WithoutScheme(absl::string_view address);

// What follows the port range in the error for a coordinator's address.
inline constexpr char kCoordinatorAddressHelp[] = "(e.g. 127.0.0.1:50051, [::1]:50051)";

struct HostPort {
  std::string host;  // without the brackets of "[v6]"
  int port = 0;
};

// `address` as HOST:PORT or [V6]:PORT (a dns:, ipv4: or ipv6: scheme may come first), with a port
// in [min_port, 65535]; else INVALID_ARGUMENT naming `flag` (none when empty: a command-line
// parser names it), `help` following "a port in [min_port, 65535]" in the message. An address list
// ("a:1,b:2") is refused.
absl::StatusOr<HostPort> SplitHostPort(absl::string_view flag, absl::string_view address,
                                       int min_port, absl::string_view help);

// SplitHostPort's check, and unix:PATH also accepted.
absl::Status CheckHostPort(absl::string_view flag, absl::string_view address, int min_port,
                           absl::string_view help);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_HOST_PORT_H_
