// A job's arithmetic and algorithm choices: bfloat16 autocast (JobSpec.precision), the
// deterministic-algorithm leases (JobSpec.deterministic) and GPU memory reading, on the CPU.
#include <filesystem>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "worker/autocast_scope.h"
#include "worker/determinism.h"
#include "worker/gpu_memory.h"
#include "worker/trainer.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;

using testing_util::VectorSink;

JobSpec SyntheticSpec() {
  JobSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    name: "precision"
    model { mlp { hidden: [64] } }
    dataset {
      synthetic { classes: 5 features: 20 train_samples: 3000 test_samples: 1000 separation: 3
                  seed: 7 }
    }
    loss { poly1 { epsilon: 1 } }
    optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
    epochs: 2
    batch_size: 64
    seed: 3
    log_every_steps: 10
  )",
                                                            &spec));
  return spec;
}

TEST(AutocastScopeTest, Bf16RunsLinearLayersInBfloat16InsideTheScopeOnly) {
  torch::nn::Linear linear(8, 4);
  const torch::Tensor x = torch::randn({2, 8});
  {
    AutocastScope scope(torch::kCPU, polytrain::v1::PRECISION_BF16);
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    {
      AutocastScope nested(torch::kCPU, polytrain::v1::PRECISION_BF16);
      EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);  // the outer one holds
  }
  EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat);
  {
    AutocastScope fp32(torch::kCPU, polytrain::v1::PRECISION_FP32);
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat);
  }
  {
    AutocastScope unspecified(torch::kCPU, polytrain::v1::PRECISION_UNSPECIFIED);
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat);
  }
  EXPECT_EQ(PrecisionName(polytrain::v1::PRECISION_BF16), "bf16 autocast");
  EXPECT_EQ(PrecisionName(polytrain::v1::PRECISION_UNSPECIFIED), "fp32");
}

TEST(TrainerPrecisionTest, Bf16TrainsAsWellAsFp32WithFloat32Weights) {
  JobSpec fp32 = SyntheticSpec(), bf16 = SyntheticSpec();
  bf16.set_precision(polytrain::v1::PRECISION_BF16);
  std::map<std::string, double> accuracy;
  for (const JobSpec* spec : {&fp32, &bf16}) {
    VectorSink sink;
    TrainerOptions options;
    options.sink = &sink;
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(*spec, options);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    const std::string name = PrecisionName(spec->precision());
    EXPECT_NE((*trainer)->Describe().find(" in " + name + " ("), std::string::npos)
        << (*trainer)->Describe();
    absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
    ASSERT_TRUE(summary.ok()) << summary.status();
    accuracy[name] = summary->final_metrics.at("eval_accuracy");
    for (const torch::Tensor& p : (*trainer)->model().Parameters()) {
      EXPECT_EQ(p.scalar_type(), torch::kFloat);  // master weights stay float32
    }
    for (const MetricPoint& point : sink.points) {
      EXPECT_TRUE(std::isfinite(
          point.values().at(point.kind() == MetricPoint::KIND_TRAIN ? "loss" : "eval_loss")));
      EXPECT_EQ(point.values().count("gpu_memory_peak_bytes"), 0u);  // a CPU job has none
    }
  }
  EXPECT_GE(accuracy["fp32"], 0.9);
  EXPECT_GE(accuracy["bf16 autocast"], accuracy["fp32"] - 0.03);
  // The two runs really differ in arithmetic: bfloat16 rounds what float32 keeps.
  JobSpec bf16_again = bf16;
  absl::StatusOr<std::unique_ptr<Trainer>> a = Trainer::Create(fp32, TrainerOptions());
  absl::StatusOr<std::unique_ptr<Trainer>> b = Trainer::Create(bf16_again, TrainerOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Run().ok());
  ASSERT_TRUE((*b)->Run().ok());
  EXPECT_FALSE(torch::equal((*a)->model().Parameters()[0], (*b)->model().Parameters()[0]));
}

TEST(DeterminismTest, AnyDeterministicLeaseTurnsDeterminismOnForAll) {
  ASSERT_FALSE(DeterministicAlgorithmsOn());
  {
    auto relaxed = LeaseAlgorithms(false);
    EXPECT_FALSE(DeterministicAlgorithmsOn());
    EXPECT_TRUE(CudnnAutotuneOn());
    {
      auto strict = LeaseAlgorithms(true);
      EXPECT_TRUE(DeterministicAlgorithmsOn());
      EXPECT_FALSE(CudnnAutotuneOn());
      auto another_relaxed = LeaseAlgorithms(false);
      EXPECT_TRUE(DeterministicAlgorithmsOn());  // still held by `strict`
    }
    EXPECT_FALSE(DeterministicAlgorithmsOn());
    EXPECT_TRUE(CudnnAutotuneOn());
  }
}

TEST(DeterminismTest, ADeterministicJobRunsAndRepeatsBitForBit) {
  JobSpec spec = SyntheticSpec();
  spec.set_deterministic(true);
  spec.set_epochs(1);
  torch::Tensor first;
  for (int run = 0; run < 2; ++run) {
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, TrainerOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    EXPECT_NE((*trainer)->Describe().find(", deterministic ("), std::string::npos);
    ASSERT_TRUE((*trainer)->Run().ok());
    const torch::Tensor weights = (*trainer)->model().Parameters()[0].clone();
    if (run == 0) {
      first = weights;
    } else {
      EXPECT_TRUE(torch::equal(first, weights));
    }
  }
  EXPECT_FALSE(DeterministicAlgorithmsOn());  // released with the run
}

TEST(GpuMemoryTest, NothingToReadForTheCpu) {
  EXPECT_FALSE(ReadGpuMemory(torch::kCPU).has_value());
  ResetGpuMemoryPeak(torch::kCPU);  // does nothing, and does not throw
}

}  // namespace
}  // namespace polytrain
