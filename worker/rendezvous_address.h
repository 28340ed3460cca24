// Rank 0's rendezvous address ("host:port", "[v6]:port") and the wait, heard by a cancel, until
// something accepts connections there. Torch-free: what ReplicaGroup needs before c10d.
#ifndef POLYTRAIN_WORKER_RENDEZVOUS_ADDRESS_H_
#define POLYTRAIN_WORKER_RENDEZVOUS_ADDRESS_H_

#include <atomic>
#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/host_port.h"

namespace polytrain {

// "host:port" or "[v6]:port" (common/host_port.h's SplitHostPort, as every address flag is
// read); INVALID_ARGUMENT naming "rendezvous" otherwise.
absl::StatusOr<HostPort> SplitAddress(const std::string& address);
// The inverse: brackets around an IPv6 host.
std::string WithPort(const std::string& host, int port);

bool Cancelled(const std::atomic<bool>* cancel);

// Waits until something accepts TCP connections at `address` (`text` as given), trying in short
// attempts so that a cancel is heard: c10d's own client retries a refused connection until its
// timeout with no way to stop it. CANCELLED, or UNAVAILABLE naming `rank`, the address, the
// `timeout` and the last error once `deadline` passed.
absl::Status AwaitListening(const HostPort& address, const std::string& text, int rank,
                            std::chrono::steady_clock::time_point deadline,
                            std::chrono::milliseconds timeout, const std::atomic<bool>* cancel);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_RENDEZVOUS_ADDRESS_H_
