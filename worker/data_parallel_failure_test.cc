// Data-parallel ranks when something goes wrong: a rank that leaves, a rendezvous nothing
// listens at, a cancel while joining, a rank on another machine's address, bad options.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "worker/data_parallel_test_util.h"
#include "worker/replica_group.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using data_parallel_test::kSpec;
using data_parallel_test::RankResult;
using data_parallel_test::RunGang;
using testing_util::Spec;

TEST(DataParallelTest, ARankThatLeavesStopsItsPeersInsteadOfHangingThem) {
  polytrain::v1::JobSpec spec = Spec(kSpec);
  spec.set_replicas(2);
  std::atomic<bool> cancel{true};
  std::vector<RankResult> gang = RunGang(spec, 2, [&](int rank, TrainerOptions& options) {
    if (rank == 1) options.cancel = &cancel;  // rank 1 stops before its first step
  });
  ASSERT_FALSE(gang[1].summary.ok());
  EXPECT_EQ(gang[1].summary.status().code(), absl::StatusCode::kCancelled);
  ASSERT_FALSE(gang[0].summary.ok());
  EXPECT_EQ(gang[0].summary.status().code(), absl::StatusCode::kUnavailable)
      << gang[0].summary.status();
  EXPECT_NE(
      gang[0].summary.status().message().find(
          "data-parallel gradient all-reduce failed on rank 0 (a replica is gone, stalled, or sent "
          "what c10d cannot read)"),
      std::string::npos)
      << gang[0].summary.status();
}

// A rendezvous nothing listens at any more: rank 0's store, opened and closed.
std::string ClosedRendezvous() {
  ReplicaGroup::Options lead_options;
  lead_options.world_size = 2;
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> lead = ReplicaGroup::Open(lead_options);
  EXPECT_TRUE(lead.ok()) << lead.status();
  return lead.ok() ? (*lead)->rendezvous() : "127.0.0.1:1";
}

TEST(DataParallelTest, ARankThatCannotReachRankZeroSaysWhere) {
  const std::string closed = ClosedRendezvous();
  ReplicaGroup::Options options;
  options.rank = 1;
  options.world_size = 2;
  options.rendezvous = closed;
  options.timeout = std::chrono::seconds(1);
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> group = ReplicaGroup::Open(options);
  ASSERT_TRUE(group.ok()) << group.status();
  const absl::Status joined = (*group)->Join();
  EXPECT_EQ(joined.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(joined.message().find("rank 1 could not reach rank 0's rendezvous at " + closed +
                                  " within 1 s"),
            std::string::npos)
      << joined;
}

TEST(DataParallelTest, ACancelStopsAJoinThatWaitsForAGoneRank) {
  // Rank 1 told of a rendezvous whose rank 0 died: it would try for the whole timeout.
  const std::string closed = ClosedRendezvous();
  std::atomic<bool> cancel{false};
  ReplicaGroup::Options options;
  options.rank = 1;
  options.world_size = 2;
  options.rendezvous = closed;
  options.timeout = std::chrono::hours(1);
  options.cancel = &cancel;
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> group = ReplicaGroup::Open(options);
  ASSERT_TRUE(group.ok()) << group.status();
  std::thread coordinator([&] { cancel = true; });  // the coordinator's stop, at any moment
  EXPECT_EQ((*group)->Join().code(), absl::StatusCode::kCancelled);
  coordinator.join();

  // Rank 0 waiting for a rank 1 that never comes: cancelled, or after the timeout named.
  ReplicaGroup::Options lead_options;
  lead_options.world_size = 2;
  lead_options.timeout = std::chrono::hours(1);
  std::atomic<bool> cancel_lead{false};
  lead_options.cancel = &cancel_lead;
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> lead = ReplicaGroup::Open(lead_options);
  ASSERT_TRUE(lead.ok()) << lead.status();
  std::thread stop_lead([&] { cancel_lead = true; });
  EXPECT_EQ((*lead)->Join().code(), absl::StatusCode::kCancelled);
  stop_lead.join();
  lead_options.timeout = std::chrono::seconds(1);
  lead_options.cancel = nullptr;
  lead = ReplicaGroup::Open(lead_options);
  ASSERT_TRUE(lead.ok()) << lead.status();
  const absl::Status alone = (*lead)->Join();
  EXPECT_EQ(alone.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(alone.message(), "rank 0: rank(s) 1 did not join within 1 s");
}

// A rank whose host is not this machine's (a worker's mistyped --advertise_address) fails when
// it opens, before it tells its peers it joined: rank 0 keeps waiting where a cancel reaches it
// (probe CA: it blocked in Gloo's set-up instead, and its healthy worker exited to end it).
TEST(DataParallelTest, ARankOnAnotherMachinesAddressFailsBeforeJoining) {
  ReplicaGroup::Options lead_options;
  lead_options.world_size = 2;
  lead_options.timeout = std::chrono::seconds(30);
  std::atomic<bool> cancel_lead{false};
  lead_options.cancel = &cancel_lead;
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> lead = ReplicaGroup::Open(lead_options);
  ASSERT_TRUE(lead.ok()) << lead.status();
  absl::Status lead_joined;
  std::thread lead_thread([&] { lead_joined = (*lead)->Join(); });

  ReplicaGroup::Options options;
  options.rank = 1;
  options.world_size = 2;
  options.host = "192.0.2.1";  // TEST-NET-1: no machine's own
  options.rendezvous = (*lead)->rendezvous();
  options.timeout = std::chrono::seconds(30);
  const absl::Status opened = ReplicaGroup::Open(options).status();
  EXPECT_EQ(opened.code(), absl::StatusCode::kUnavailable);  // a gang lost: tried elsewhere
  EXPECT_NE(opened.message().find("rank 1: this worker's address for its peers, 192.0.2.1 (its "
                                  "--advertise_address, or its address on the route to the "
                                  "coordinator), is not one of this machine's"),
            std::string::npos)
      << opened;

  cancel_lead = true;  // the coordinator's stop, as the failed rank reports
  lead_thread.join();
  EXPECT_EQ(lead_joined.code(), absl::StatusCode::kCancelled) << lead_joined;
}

TEST(DataParallelTest, OpenChecksTheRankAndTheRendezvous) {
  ReplicaGroup::Options options;
  options.world_size = 1;
  EXPECT_EQ(ReplicaGroup::Open(options).status().message(),
            "rank 0 of world size 1 is not a replica");
  options.world_size = 2;
  options.rank = 2;
  EXPECT_EQ(ReplicaGroup::Open(options).status().message(),
            "rank 2 of world size 2 is not a replica");
  options.rank = 1;
  options.rendezvous = "nowhere";
  EXPECT_EQ(ReplicaGroup::Open(options).status().message(),
            "rendezvous: expected HOST:PORT with a port in [1, 65535] (rank 0's address, as the "
            "coordinator sent it), got 'nowhere'");
}

}  // namespace
}  // namespace polytrain
