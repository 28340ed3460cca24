// Data-parallel training (JobSpec.replicas) against a single trainer: the gang's ranks run here
// as threads of one process, joined through a real TCPStore and Gloo over loopback.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "worker/replica_group.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using testing_util::ModelState;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::VectorSink;

// 100 training samples in batches of 16: six full batches and a short one of 4 each epoch, so a
// gang of two sees a last batch that rank 1 has no rows of.
constexpr char kSpec[] = R"(
  name: "dp"
  model { mlp { hidden: [32, 16] } }
  dataset { synthetic { classes: 4 features: 12 train_samples: 100 test_samples: 64 } }
  loss { poly1 { epsilon: 2 } }
  optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
  epochs: 3
  batch_size: 16
  seed: 11
  log_every_steps: 5
)";

// As polytrain-worker does at start-up: this process runs whole gangs, one rank per thread.
[[maybe_unused]] const bool kFlightRecorderOff = [] {
  ReplicaGroup::DisableFlightRecorder();
  return true;
}();

struct RankResult {
  absl::StatusOr<TrainingSummary> summary = absl::UnknownError("not run");
  ModelState state;
  std::vector<polytrain::v1::MetricPoint> points;
  std::string backend;  // the process group it joined
  size_t buckets = 0;
  int64_t launched_during_backward = 0;
};

// Runs `world` replicas of `spec` to the end; `adjust` may change a rank's options (its
// checkpoint directory, a cancel flag) before its trainer is made.
std::vector<RankResult> RunGang(
    const polytrain::v1::JobSpec& spec, int world,
    const std::function<void(int rank, TrainerOptions&)>& adjust = nullptr,
    int64_t bucket_bytes = ReplicaGroup::kBucketBytes) {
  std::vector<RankResult> results(world);
  std::vector<std::unique_ptr<ReplicaGroup>> groups(world);
  ReplicaGroup::Options lead_options;
  lead_options.world_size = world;
  lead_options.bucket_bytes = bucket_bytes;
  lead_options.timeout = std::chrono::seconds(60);
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> lead = ReplicaGroup::Open(lead_options);
  EXPECT_TRUE(lead.ok()) << lead.status();
  if (!lead.ok()) return results;
  groups[0] = *std::move(lead);
  for (int rank = 1; rank < world; ++rank) {
    ReplicaGroup::Options options = lead_options;
    options.rank = rank;
    options.rendezvous = groups[0]->rendezvous();
    absl::StatusOr<std::unique_ptr<ReplicaGroup>> group = ReplicaGroup::Open(options);
    EXPECT_TRUE(group.ok()) << group.status();
    if (!group.ok()) return results;
    groups[rank] = *std::move(group);
  }
  // Trainers are made one after another (model initialization draws from LibTorch's global
  // generator); they train side by side.
  std::vector<std::unique_ptr<Trainer>> trainers(world);
  std::vector<VectorSink> sinks(world);
  for (int rank = 0; rank < world; ++rank) {
    TrainerOptions options;
    options.sink = &sinks[rank];
    options.replicas = groups[rank].get();
    if (adjust) adjust(rank, options);
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, options);
    EXPECT_TRUE(trainer.ok()) << trainer.status();
    if (!trainer.ok()) return results;
    trainers[rank] = *std::move(trainer);
  }
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      const absl::Status joined = groups[rank]->Join();
      results[rank].backend = groups[rank]->backend();
      results[rank].summary =
          joined.ok() ? trainers[rank]->Run() : absl::StatusOr<TrainingSummary>(joined);
      results[rank].buckets = groups[rank]->buckets();
      results[rank].launched_during_backward = groups[rank]->buckets_launched_during_backward();
      // A rank that stops leaves the gang, as its process would: its peers' next collective
      // fails instead of waiting.
      if (!results[rank].summary.ok()) groups[rank].reset();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int rank = 0; rank < world; ++rank) {
    results[rank].state = trainers[rank]->model().State();
    results[rank].points = sinks[rank].points;
  }
  return results;
}

ModelState TrainAlone(const polytrain::v1::JobSpec& spec, TrainerOptions options = {}) {
  ModelState state;
  absl::StatusOr<TrainingSummary> summary = testing_util::Train(spec, options, &state);
  EXPECT_TRUE(summary.ok()) << summary.status();
  return state;
}

// The same weights up to float32 summation order: a gang adds its ranks' partial gradients,
// one trainer adds the whole batch's at once. 21 steps of SGD with momentum keep that within
// 1e-5 absolute (weights are O(0.1)); a gang training on the wrong rows misses it by far more.
void ExpectCloseWeights(const ModelState& a, const ModelState& b, double tolerance = 1e-5) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    const double difference = (a[i].second - b[i].second).abs().max().item<double>();
    EXPECT_LE(difference, tolerance) << a[i].first;
  }
}

TEST(DataParallelTest, TwoReplicasTrainAsOneOnTheSameGlobalBatch) {
  const polytrain::v1::JobSpec spec = Spec(kSpec);
  const ModelState alone = TrainAlone(spec);
  polytrain::v1::JobSpec gang_spec = spec;
  gang_spec.set_replicas(2);
  std::vector<RankResult> gang = RunGang(gang_spec, 2);
  ASSERT_TRUE(gang[0].summary.ok()) << gang[0].summary.status();
  ASSERT_TRUE(gang[1].summary.ok()) << gang[1].summary.status();
  EXPECT_EQ(gang[0].summary->steps, 21);
  EXPECT_EQ(gang[0].backend, "gloo");  // CPU tensors
  // Disjoint shares: rank 0 takes rows 0-7 of each batch of 16 and all 4 of the short one, rank 1
  // rows 8-15, so the two cover each epoch's 100 samples once (not each the whole batch).
  EXPECT_EQ(gang[0].summary->trained_samples, 3 * (6 * 8 + 4));
  EXPECT_EQ(gang[1].summary->trained_samples, 3 * (6 * 8));
  ExpectCloseWeights(gang[0].state, alone);
  // Every rank holds the same weights, bit for bit: they all applied the same summed gradient.
  testing_util::ExpectSameWeights(gang[0].state, gang[1].state);
  // Rank 0 alone evaluates and reports; its points carry the gradient traffic.
  EXPECT_FALSE(gang[0].summary->final_metrics.empty());
  EXPECT_TRUE(gang[1].summary->final_metrics.empty());
  EXPECT_TRUE(gang[1].points.empty());
  ASSERT_FALSE(gang[0].points.empty());
  const auto& values = gang[0].points.front().values();
  ASSERT_EQ(values.count("allreduce_bytes_per_step"), 1u);
  // Each step's bucket: every parameter's gradient and the loss, in float32.
  const int64_t parameters = (12 * 32 + 32) + (32 * 16 + 16) + (16 * 4 + 4);
  EXPECT_EQ(values.at("allreduce_bytes_per_step"), 4.0 * (parameters + 1));
}

TEST(DataParallelTest, SmallBucketsGoOutDuringBackwardAndTrainAsOne) {
  const polytrain::v1::JobSpec spec = Spec(kSpec);
  const ModelState alone = TrainAlone(spec);
  polytrain::v1::JobSpec gang_spec = spec;
  gang_spec.set_replicas(2);
  // 1 KB buckets, filled from the last layer back: [b3 W3 b2] (336 bytes), [W2] (2 KB, alone),
  // [b1], [W1] (1.5 KB). All but the last are complete before backward ends.
  std::vector<RankResult> gang = RunGang(gang_spec, 2, nullptr, /*bucket_bytes=*/1024);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(gang[rank].summary.ok()) << rank << ": " << gang[rank].summary.status();
    EXPECT_EQ(gang[rank].buckets, 4u);
    // Every step, at least one bucket was launched from inside backward.
    EXPECT_GE(gang[rank].launched_during_backward, gang[0].summary->steps) << "rank " << rank;
  }
  ExpectCloseWeights(gang[0].state, alone);
  testing_util::ExpectSameWeights(gang[0].state, gang[1].state);
}

TEST(DataParallelTest, FourReplicasWithASumReductionTrainAsOne) {
  polytrain::v1::JobSpec spec = Spec(kSpec);
  spec.mutable_loss()->set_reduction(polytrain::v1::REDUCTION_SUM);
  spec.mutable_optimizer()->set_learning_rate(0.005);
  const ModelState alone = TrainAlone(spec);
  spec.set_replicas(4);
  std::vector<RankResult> gang = RunGang(spec, 4);
  for (int rank = 0; rank < 4; ++rank) {
    ASSERT_TRUE(gang[rank].summary.ok()) << rank << ": " << gang[rank].summary.status();
  }
  ExpectCloseWeights(gang[0].state, alone);
  testing_util::ExpectSameWeights(gang[0].state, gang[3].state);
}

TEST(DataParallelTest, AMeanOverWeightedOrIgnoredRowsTrainsAsOne) {
  // A mean divides by the batch's class weights (ignored rows excluded), which differ between
  // ranks' shares: each rank weighs its own mean by its part of that sum, not of the rows.
  for (const std::string loss :
       {"poly1 { epsilon: 2 } class_weights: [0.05, 20, 1, 3] ignore_index: 2",
        "focal { gamma: 2 } activation: ACTIVATION_SIGMOID ignore_index: 0"}) {
    polytrain::v1::JobSpec spec = Spec(kSpec);
    ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString("loss { " + loss + " }", &spec))
        << loss;
    VectorSink alone_points;
    TrainerOptions alone_options;
    alone_options.sink = &alone_points;
    const ModelState alone = TrainAlone(spec, alone_options);
    spec.set_replicas(2);
    std::vector<RankResult> gang = RunGang(spec, 2);
    for (int rank = 0; rank < 2; ++rank) {
      ASSERT_TRUE(gang[rank].summary.ok()) << rank << ": " << gang[rank].summary.status();
    }
    SCOPED_TRACE(loss);
    ExpectCloseWeights(gang[0].state, alone);
    testing_util::ExpectSameWeights(gang[0].state, gang[1].state);
    // Training accuracy is the gang's: its ranks' right answers over their rows not ignored
    // (one rank's alone would be about twice as high). A near tie may flip a prediction. The
    // window's loss is one trainer's: its batches weigh by their denominators (5 steps a
    // window), which the gang takes from its rows' weights on the host.
    ASSERT_EQ(gang[0].points.size(), alone_points.points.size());
    for (size_t i = 0; i < alone_points.points.size(); ++i) {
      const auto& solo = alone_points.points[i].values();
      if (solo.count("loss") != 0) {
        const double expected = solo.at("loss");
        EXPECT_NEAR(gang[0].points[i].values().at("loss"), expected,
                    1e-4 * std::max(1.0, std::abs(expected)))
            << i;
      }
      if (solo.count("accuracy") == 0) continue;
      EXPECT_NEAR(gang[0].points[i].values().at("accuracy"), solo.at("accuracy"), 0.02) << i;
    }
  }
}

// Multi-label targets with unknown (ignored) elements, more of them in the first half of the
// data: a rank's mean counts its own kept elements, and the gang's weights are one trainer's.
TEST(DataParallelTest, MultiLabelTargetsWithIgnoredElementsTrainAsOne) {
  const std::string root = TempDir("dp_multi_label");
  std::filesystem::create_directories(root);
  torch::manual_seed(4);
  const torch::Tensor rules = torch::randn({12, 4});
  c10::Dict<std::string, torch::Tensor> tensors;
  for (const auto& [split, rows] : {std::pair<std::string, int64_t>{"train", 100}, {"test", 64}}) {
    const torch::Tensor x = torch::randn({rows, 12});
    torch::Tensor y = x.mm(rules).gt(0.5).to(torch::kFloat);
    y.narrow(0, 0, rows / 2).masked_fill_(torch::rand({rows / 2, 4}).lt(0.6), -1.0);
    tensors.insert(split + "_x", x);
    tensors.insert(split + "_y", y);
  }
  const std::vector<char> bytes = torch::pickle_save(tensors);
  std::ofstream(root + "/multi_label.pt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  polytrain::v1::JobSpec spec = Spec(kSpec);
  ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
      "dataset { tensors { path: 'multi_label.pt' } } "
      "loss { focal { gamma: 2 } activation: ACTIVATION_SIGMOID ignore_index: -1 }",
      &spec));
  TrainerOptions alone_options;
  alone_options.data_root = root;
  const ModelState alone = TrainAlone(spec, alone_options);
  spec.set_replicas(2);
  std::vector<RankResult> gang =
      RunGang(spec, 2, [&](int, TrainerOptions& options) { options.data_root = root; });
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(gang[rank].summary.ok()) << rank << ": " << gang[rank].summary.status();
  }
  ExpectCloseWeights(gang[0].state, alone);
  std::filesystem::remove_all(root);
}

TEST(DataParallelTest, AugmentedRanksTrainAsOneEvenWithNoRowsInAShortBatch) {
  // 100 images in batches of 32 among 4 ranks: the short last batch (4 rows) leaves ranks 1-3
  // with none, and each rank's crops and flips are those of its rows in the global batch.
  const polytrain::v1::JobSpec spec = Spec(R"(
    name: "dp-augmented"
    model { mlp { hidden: [16] } }
    dataset { fashion_mnist {} train_limit: 100 test_limit: 50
              augment { random_crop_padding: 2 horizontal_flip: true } }
    loss { cross_entropy {} }
    optimizer { sgd {} learning_rate: 0.05 }
    epochs: 2
    batch_size: 32
    seed: 5
  )");
  const ModelState alone = TrainAlone(spec);
  polytrain::v1::JobSpec gang_spec = spec;
  gang_spec.set_replicas(4);
  std::vector<RankResult> gang = RunGang(gang_spec, 4);
  for (int rank = 0; rank < 4; ++rank) {
    ASSERT_TRUE(gang[rank].summary.ok()) << rank << ": " << gang[rank].summary.status();
  }
  EXPECT_EQ(gang[0].summary->trained_samples, 2 * (3 * 8 + 4));
  EXPECT_EQ(gang[3].summary->trained_samples, 2 * (3 * 8));
  ExpectCloseWeights(gang[0].state, alone);
}

TEST(DataParallelTest, AGangResumesFromRankZerosCheckpointExactly) {
  polytrain::v1::JobSpec spec = Spec(kSpec);
  spec.set_replicas(2);
  spec.mutable_checkpoint()->set_every_steps(5);
  const std::string uninterrupted_dir = TempDir("dp_full"), dir = TempDir("dp_split");
  std::vector<RankResult> full = RunGang(spec, 2, [&](int rank, TrainerOptions& options) {
    if (rank == 0) options.checkpoint_dir = uninterrupted_dir;
  });
  ASSERT_TRUE(full[0].summary.ok()) << full[0].summary.status();
  std::vector<RankResult> first = RunGang(spec, 2, [&](int rank, TrainerOptions& options) {
    if (rank == 0) options.checkpoint_dir = dir;
    options.stop_after_steps = 10;
  });
  ASSERT_TRUE(first[0].summary.ok()) << first[0].summary.status();
  EXPECT_TRUE(first[0].summary->stopped_early);
  // Every rank resumes from the checkpoint rank 0 wrote (the service fetches the stored one).
  std::vector<RankResult> resumed = RunGang(spec, 2, [&](int, TrainerOptions& options) {
    options.checkpoint_dir = dir;
    options.resume = true;
  });
  ASSERT_TRUE(resumed[0].summary.ok()) << resumed[0].summary.status();
  ASSERT_TRUE(resumed[1].summary.ok()) << resumed[1].summary.status();
  EXPECT_EQ(resumed[0].summary->resumed_from_step, 10);
  EXPECT_EQ(resumed[1].summary->resumed_from_step, 10);
  testing_util::ExpectSameWeights(resumed[0].state, full[0].state);
  std::filesystem::remove_all(uninterrupted_dir);
  std::filesystem::remove_all(dir);
}

TEST(DataParallelTest, RanksThatStartFromDifferentStepsAreRefused) {
  polytrain::v1::JobSpec spec = Spec(kSpec);
  spec.set_replicas(2);
  spec.mutable_checkpoint()->set_every_steps(5);
  const std::string dir = TempDir("dp_mismatch");
  std::vector<RankResult> first = RunGang(spec, 2, [&](int rank, TrainerOptions& options) {
    if (rank == 0) options.checkpoint_dir = dir;
    options.stop_after_steps = 5;
  });
  ASSERT_TRUE(first[0].summary.ok()) << first[0].summary.status();
  // Rank 0 resumes from step 5, rank 1 from scratch.
  std::vector<RankResult> mixed = RunGang(spec, 2, [&](int rank, TrainerOptions& options) {
    if (rank == 0) {
      options.checkpoint_dir = dir;
      options.resume = true;
    }
  });
  ASSERT_FALSE(mixed[0].summary.ok());
  EXPECT_EQ(mixed[0].summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(mixed[0].summary.status().message(),
            "rank 0 starts at step 5, rank 0 at step 5; 1 of 2 replicas differ from rank 0 (their "
            "checkpoints differ)");
  ASSERT_FALSE(mixed[1].summary.ok());
  EXPECT_EQ(mixed[1].summary.status().message(),
            "rank 1 starts at step 0, rank 0 at step 5; 1 of 2 replicas differ from rank 0 (their "
            "checkpoints differ)");
  std::filesystem::remove_all(dir);
}

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
