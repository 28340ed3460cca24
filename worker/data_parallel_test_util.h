// What the data-parallel tests share: a spec whose last batch is short, and a gang of trainers
// run here as threads of one process, joined through a real TCPStore and Gloo over loopback.
#ifndef POLYTRAIN_WORKER_DATA_PARALLEL_TEST_UTIL_H_
#define POLYTRAIN_WORKER_DATA_PARALLEL_TEST_UTIL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "worker/replica_group.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain::data_parallel_test {

// 100 training samples in batches of 16: six full batches and a short one of 4 each epoch, so a
// gang of two sees a last batch that rank 1 has no rows of.
inline constexpr char kSpec[] = R"(
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
[[maybe_unused]] inline const bool kFlightRecorderOff = [] {
  ReplicaGroup::DisableFlightRecorder();
  return true;
}();

struct RankResult {
  absl::StatusOr<TrainingSummary> summary = absl::UnknownError("not run");
  testing_util::ModelState state;
  std::vector<polytrain::v1::MetricPoint> points;
  std::string backend;  // the process group it joined
  size_t buckets = 0;
  int64_t launched_during_backward = 0;
};

// Runs `world` replicas of `spec` to the end; `adjust` may change a rank's options (its
// checkpoint directory, a cancel flag) before its trainer is made.
inline std::vector<RankResult> RunGang(
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
  std::vector<testing_util::VectorSink> sinks(world);
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

inline testing_util::ModelState TrainAlone(const polytrain::v1::JobSpec& spec,
                                           TrainerOptions options = {}) {
  testing_util::ModelState state;
  absl::StatusOr<TrainingSummary> summary = testing_util::Train(spec, options, &state);
  EXPECT_TRUE(summary.ok()) << summary.status();
  return state;
}

// The same weights up to float32 summation order: a gang adds its ranks' partial gradients,
// one trainer adds the whole batch's at once. 21 steps of SGD with momentum keep that within
// 1e-5 absolute (weights are O(0.1)); a gang training on the wrong rows misses it by far more.
inline void ExpectCloseWeights(const testing_util::ModelState& a, const testing_util::ModelState& b,
                               double tolerance = 1e-5) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    const double difference = (a[i].second - b[i].second).abs().max().item<double>();
    EXPECT_LE(difference, tolerance) << a[i].first;
  }
}

}  // namespace polytrain::data_parallel_test

#endif  // POLYTRAIN_WORKER_DATA_PARALLEL_TEST_UTIL_H_
