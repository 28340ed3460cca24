// A rank's gang connections in a child process (worker/gang_child.h is the child): its peers
// are other machines' processes, and Gloo, given traffic it cannot take (a hostile rank's
// all-reduce of the wrong length), throws on its own thread, which aborts the process it is in.
// Here that process is the child: this rank's collectives then fail UNAVAILABLE, as for a
// peer gone, and the worker with its other jobs goes on. Tensors travel through memory both
// map (gradient buckets are built there: no copy), requests and replies over a socket pair.
//
// The child dies with the thread that opened the connection (PR_SET_PDEATHSIG): open it on a
// thread that outlives its use, as a job's thread does.
#ifndef POLYTRAIN_WORKER_CHILD_CONNECTION_H_
#define POLYTRAIN_WORKER_CHILD_CONNECTION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "worker/gang_connection.h"
#include "worker/gang_options.h"

namespace polytrain {

// Starts options.process_binary as the child and waits for its open (rank 0: its store's
// port); errors as OpenC10dConnection's, UNAVAILABLE when the child cannot start or dies.
absl::StatusOr<std::unique_ptr<GangConnection>> OpenChildConnection(const GangOptions& options);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHILD_CONNECTION_H_
