#include "common/host_port.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polytrain {

absl::string_view WithoutScheme(absl::string_view address) {
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&address, scheme)) break;
  }
  return address;
}

absl::StatusOr<HostPort> SplitHostPort(absl::string_view flag, absl::string_view address,
                                       int min_port, absl::string_view help) {
  const absl::string_view bare = WithoutScheme(address);
  const size_t colon = bare.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? "" : bare.substr(0, colon);
  const absl::string_view port = colon == absl::string_view::npos ? "" : bare.substr(colon + 1);
  int number = 0;
  const bool bracketed = absl::StartsWith(host, "[") && absl::EndsWith(host, "]");
  if (host.empty() || host.find_first_of(" \t/,") != absl::string_view::npos ||
      (!bracketed && host.find(':') != absl::string_view::npos) || port.empty() ||
      port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &number) || number < min_port || number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, flag.empty() ? "" : ": ", "expected HOST:PORT with a port in [",
                     min_port, ", 65535] ", help, ", got '", address.substr(0, 256), "'"));
  }
  if (bracketed) host = host.substr(1, host.size() - 2);
  return HostPort{std::string(host), number};
}

absl::Status CheckHostPort(absl::string_view flag, absl::string_view address, int min_port,
                           absl::string_view help) {
  if (absl::StartsWith(address, "unix:")) return absl::OkStatus();
  return SplitHostPort(flag, address, min_port, help).status();
}

}  // namespace polytrain
