// Whether the jobs of a worker the coordinator refuses (its token revoked, another pool's name)
// have surely been requeued: the coordinator lets a job go one lease after it last heard from
// the worker, and a restarted coordinator gives each restored job one lease from its start. So a
// worker counts the lease from the later of its last contact and the first refusal of an
// unbroken run of refusals: a coordinator that was merely down (UNAVAILABLE), however long,
// never makes it stop jobs the coordinator may still be waiting to re-attach.
#ifndef POLYTRAIN_WORKER_REFUSED_LEASE_H_
#define POLYTRAIN_WORKER_REFUSED_LEASE_H_

#include <chrono>
#include <optional>

namespace polytrain {

// One per worker, used by its connection loop alone.
class RefusedLease {
 public:
  using Clock = std::chrono::steady_clock;

  // A welcomed stream: the coordinator heard from the worker at `now` (each message on it, and
  // its end), giving jobs leases of `lease_seconds`.
  void Contact(Clock::time_point now, double lease_seconds);
  // A dial the coordinator refused (UNAUTHENTICATED, PERMISSION_DENIED).
  void Refused(Clock::time_point now);
  // A dial that failed otherwise (the coordinator away): the run of refusals is broken.
  void Unreachable() { refused_since_.reset(); }
  // Refused without a break for longer than a lease, counted from the last contact or the first
  // refusal of the run, whichever is later.
  bool Lapsed(Clock::time_point now) const;
  double lease_seconds() const { return lease_seconds_; }

 private:
  std::optional<Clock::time_point> last_contact_;
  std::optional<Clock::time_point> refused_since_;
  double lease_seconds_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_REFUSED_LEASE_H_
