// Data-parallel training (JobSpec.replicas) against a single trainer: the gang's ranks run here
// as threads of one process, joined through a real TCPStore and Gloo over loopback.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "worker/data_parallel_test_util.h"
#include "worker/replica_group.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using data_parallel_test::ExpectCloseWeights;
using data_parallel_test::kSpec;
using data_parallel_test::RankResult;
using data_parallel_test::RunGang;
using data_parallel_test::TrainAlone;
using testing_util::ModelState;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::VectorSink;

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

}  // namespace
}  // namespace polytrain
