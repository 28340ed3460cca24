// A rank's gang connections in this process, through LibTorch's c10d (worker/gang_connection.h).
// c10d's headers stay in the .cc.
#ifndef POLYTRAIN_WORKER_C10D_CONNECTION_H_
#define POLYTRAIN_WORKER_C10D_CONNECTION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/gang_connection.h"
#include "worker/gang_options.h"

namespace polytrain {

// A collective that fails (a peer's socket closed because its process died, or a peer silent
// past the timeout) comes back as UNAVAILABLE: the gang is lost.
absl::StatusOr<std::unique_ptr<GangConnection>> OpenC10dConnection(const GangOptions& options);

// Whether this build can join CUDA gangs through NCCL (PyTorch's CUDA LibTorch).
bool C10dHasNccl();

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_C10D_CONNECTION_H_
