// A refused worker stops its jobs only once the coordinator has surely requeued them.
#include "worker/refused_lease.h"

#include <chrono>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

using std::chrono::seconds;

TEST(RefusedLeaseTest, ARunOfRefusalsLongerThanALeaseAfterTheLastContactLapses) {
  RefusedLease lease;
  const auto t0 = RefusedLease::Clock::now();
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(100)));  // never welcomed: no jobs of its own
  lease.Contact(t0, 30);
  lease.Refused(t0 + seconds(1));
  lease.Refused(t0 + seconds(20));
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(30)));
  EXPECT_TRUE(lease.Lapsed(t0 + seconds(32)));
  // Welcomed again: a new contact, and the run of refusals is over.
  lease.Contact(t0 + seconds(40), 30);
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(100)));
}

// The coordinator was down for ten leases, then refused the worker's first dial (its token file
// rotated with the restart): the restarted coordinator gives restored jobs a lease from its
// start, so the worker waits a lease from that refusal, not from its last contact.
TEST(RefusedLeaseTest, ACoordinatorThatWasDownCountsFromTheFirstRefusal) {
  RefusedLease lease;
  const auto t0 = RefusedLease::Clock::now();
  lease.Contact(t0, 30);
  lease.Unreachable();
  lease.Unreachable();
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(300)));  // away, not refusing
  lease.Refused(t0 + seconds(300));
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(301)));
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(329)));
  EXPECT_TRUE(lease.Lapsed(t0 + seconds(331)));
  // A dial that fails otherwise breaks the run: it starts again at the next refusal.
  lease.Unreachable();
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(400)));
  lease.Refused(t0 + seconds(400));
  EXPECT_FALSE(lease.Lapsed(t0 + seconds(420)));
}

}  // namespace
}  // namespace polytrain
