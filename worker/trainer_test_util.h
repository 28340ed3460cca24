// Helpers the trainer's tests share: a sink that keeps metric points, specs from text, scratch
// directories, a run that hands back the model's state, and the bit-for-bit comparisons.
#ifndef POLYTRAIN_WORKER_TRAINER_TEST_UTIL_H_
#define POLYTRAIN_WORKER_TRAINER_TEST_UTIL_H_

#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "worker/trainer.h"

namespace polytrain::testing_util {

class VectorSink : public MetricSink {
 public:
  void Emit(const polytrain::v1::MetricPoint& point) override { points.push_back(point); }
  std::vector<polytrain::v1::MetricPoint> points;
};

// A small synthetic run (an MLP with dropout, Nesterov momentum, cosine decay after warm-up) that
// trains in a second and checkpoints and logs often enough to resume anywhere.
inline constexpr char kSyntheticMlpSpec[] = R"(
  name: "synthetic"
  model { mlp { hidden: [32] dropout: 0.2 } }
  dataset {
    synthetic { classes: 5 features: 20 train_samples: 3000 test_samples: 1000 separation: 3
                seed: 7 }
  }
  loss { poly1 { epsilon: 1 } }
  optimizer { sgd { momentum: 0.9 nesterov: true } learning_rate: 0.05 weight_decay: 1e-4 }
  schedule { cosine { min_factor: 0.1 } warmup_steps: 10 }
  epochs: 3
  batch_size: 64
  seed: 11
  log_every_steps: 5
)";

inline polytrain::v1::JobSpec Spec(const std::string& text) {
  polytrain::v1::JobSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

// An empty directory of this test process's own under the test temp dir.
inline std::string TempDir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / (name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

using ModelState = std::vector<std::pair<std::string, torch::Tensor>>;

// Creates and runs a trainer; `state_out` receives its model's parameters and buffers.
inline absl::StatusOr<TrainingSummary> Train(const polytrain::v1::JobSpec& spec,
                                             TrainerOptions options,
                                             ModelState* state_out = nullptr) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, options);
  if (!trainer.ok()) return trainer.status();
  absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
  if (state_out != nullptr) *state_out = (*trainer)->model().State();
  return summary;
}

// Every parameter and buffer (batch-norm statistics included) equal, bit for bit.
inline void ExpectSameWeights(const ModelState& a, const ModelState& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

// Interrupted at step `stop_at` and resumed from the checkpoint there: the same final weights
// as a run that never stopped, bit for bit (dropout RNG, momentum, schedule and data order
// restored).
inline void ExpectResumeIsExact(const polytrain::v1::JobSpec& spec, int64_t stop_at,
                                TrainerOptions base = TrainerOptions()) {
  const std::string full_dir = TempDir("full"), split_dir = TempDir("split");
  TrainerOptions full = base;
  full.checkpoint_dir = full_dir;
  ModelState uninterrupted;
  absl::StatusOr<TrainingSummary> reference = Train(spec, full, &uninterrupted);
  ASSERT_TRUE(reference.ok()) << reference.status();

  TrainerOptions first = base;
  first.checkpoint_dir = split_dir;
  first.stop_after_steps = stop_at;
  absl::StatusOr<TrainingSummary> stopped = Train(spec, first);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped_early);
  EXPECT_EQ(stopped->steps, stop_at);

  TrainerOptions second = base;
  second.checkpoint_dir = split_dir;
  second.resume = true;
  ModelState resumed_model;
  absl::StatusOr<TrainingSummary> resumed = Train(spec, second, &resumed_model);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->steps, reference->steps);
  ExpectSameWeights(uninterrupted, resumed_model);
  EXPECT_EQ(resumed->final_metrics.at("eval_accuracy"),
            reference->final_metrics.at("eval_accuracy"));
  std::filesystem::remove_all(full_dir);
  std::filesystem::remove_all(split_dir);
}

}  // namespace polytrain::testing_util

#endif  // POLYTRAIN_WORKER_TRAINER_TEST_UTIL_H_
