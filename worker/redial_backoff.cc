#include "worker/redial_backoff.h"

#include <algorithm>
#include <cmath>

namespace polytrain {

std::chrono::duration<double> RedialBackoff::Next(double heartbeat_seconds) {
  // A Welcome's heartbeat is the coordinator's --lease_seconds / 3 (at least 1/3 s); anything
  // else (none yet, a NaN) leaves the 5 s bound.
  const double bound = std::isfinite(heartbeat_seconds) && heartbeat_seconds > 0
                           ? std::clamp(heartbeat_seconds, kFirstSeconds, kMaxSeconds)
                           : kMaxSeconds;
  const double wait = std::min(next_, bound);
  next_ = std::min(next_ * 2, kMaxSeconds);
  return std::chrono::duration<double>(wait);
}

}  // namespace polytrain
