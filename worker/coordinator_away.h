// Whether a call to the coordinator failed because the coordinator is away (stopped,
// restarting, restarted and not yet reconnected to), so that the worker tries it again, or
// because of the request itself, which another try would not change.
#ifndef POLYTRAIN_WORKER_COORDINATOR_AWAY_H_
#define POLYTRAIN_WORKER_COORDINATOR_AWAY_H_

#include "absl/status/status.h"

namespace polytrain {

// UNAVAILABLE and DEADLINE_EXCEEDED; CANCELLED unless `cancelled_here` (the coordinator cut a
// stalled transfer); and the PERMISSION_DENIED of a restarted coordinator that does not know this
// worker's session key yet (kUnknownSessionKeyRefusal: the worker's stream reconnects and the
// next try sends the new key).
bool IsCoordinatorAway(const absl::Status& status, bool cancelled_here);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_COORDINATOR_AWAY_H_
