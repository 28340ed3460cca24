// The address of this machine that traffic to a given host leaves from: what a worker tells the
// other ranks of a data-parallel gang to reach it at, unless --advertise_address says otherwise.
#ifndef POLYTRAIN_WORKER_OUTBOUND_ADDRESS_H_
#define POLYTRAIN_WORKER_OUTBOUND_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polytrain {

// The local IP address (v4, or v6 without brackets) of the route to `host_port` ("host:port" or
// "[v6]:port"), found by connecting a UDP socket, which sends nothing. UNAVAILABLE when the host
// does not resolve or has no route.
absl::StatusOr<std::string> OutboundAddressTo(const std::string& host_port);

// OK when `host` (a name, or an IP address; v6 without brackets) resolves to an address this
// machine can bind to, as the gang's transport does on it. INVALID_ARGUMENT when it resolves
// only to others' addresses (a mistyped --advertise_address); UNAVAILABLE when it does not
// resolve (now: a name may resolve later).
absl::Status CheckAddressOfThisMachine(const std::string& host);

// The form of a --advertise_address: a host name or IP address (v6 without brackets), with no
// port, and not an unspecified address (0.0.0.0, ::: no peer reaches a worker there).
// INVALID_ARGUMENT naming the flag otherwise.
absl::Status CheckAdvertiseAddressForm(const std::string& address);

// The worker's --advertise_address at start: INVALID_ARGUMENT, naming the flag, for another
// machine's address on a CPU worker (Gloo binds to it: it would fail only in a gang); on a CUDA
// worker that is a warning (NCCL picks its own interfaces), as is a name that does not resolve
// yet (tried again at each data-parallel job).
absl::Status CheckAdvertiseAddress(const std::string& address, bool cuda_worker);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_OUTBOUND_ADDRESS_H_
