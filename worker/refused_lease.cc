#include "worker/refused_lease.h"

#include <algorithm>

namespace polytrain {

void RefusedLease::Contact(Clock::time_point now, double lease_seconds) {
  last_contact_ = now;
  lease_seconds_ = lease_seconds;
  refused_since_.reset();
}

void RefusedLease::Refused(Clock::time_point now) {
  if (!refused_since_.has_value()) refused_since_ = now;
}

bool RefusedLease::Lapsed(Clock::time_point now) const {
  if (!last_contact_.has_value() || !refused_since_.has_value() || lease_seconds_ <= 0) {
    return false;
  }
  const Clock::time_point from = std::max(*last_contact_, *refused_since_);
  return now - from > std::chrono::duration<double>(lease_seconds_);
}

}  // namespace polytrain
