// Where the worker service says that it refused a worker's call for a reason of the call itself
// (a hello the coordinator cannot take, a name another worker holds, a checkpoint of another
// worker's job, a damaged upload): the coordinator's log, with the caller's address, at most a
// few lines a minute (AuthFailureLog), so that an operator sees a misbehaving or misconfigured
// worker where a refused token is seen too. Refusals of the token itself are logged by
// AccessControl, not again here.
#ifndef POLYTRAIN_SERVER_WORKER_CALL_REFUSALS_H_
#define POLYTRAIN_SERVER_WORKER_CALL_REFUSALS_H_

#include <functional>

#include "absl/status/status.h"

namespace polytrain {

// Logs one refusal of the call it was made for; a no-op when null.
using RefusalLog = std::function<void(const absl::Status& why)>;

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_WORKER_CALL_REFUSALS_H_
