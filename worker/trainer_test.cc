// The trainer end to end on real data (Debian's Fashion-MNIST) and synthetic data: accuracy
// reached, determinism, and every way a job is refused (exact resumption: trainer_resume_test.cc).
#include "worker/trainer.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "api/limits.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "worker/dataset.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;
using polytrain::v1::JobSpec;
using polytrain::v1::MetricPoint;
using testing_util::ExpectSameWeights;
using testing_util::kSyntheticMlpSpec;
using testing_util::ModelState;
using testing_util::Spec;
using testing_util::TempDir;
using testing_util::Train;
using testing_util::VectorSink;

// Per-class accuracies stop at kMaxClassesWithPerClassMetrics classes, so every point and the
// final metrics stay within what the coordinator accepts (kMaxValuesPerPoint), validation split
// included.
TEST(TrainerTest, PerClassMetricsStopAtAHundredClassesAndEveryPointFitsTheProtocol) {
  for (const int classes : {kMaxClassesWithPerClassMetrics, kMaxClassesWithPerClassMetrics + 1}) {
    JobSpec spec = Spec(kSyntheticMlpSpec);
    spec.mutable_dataset()->mutable_synthetic()->set_classes(classes);
    spec.mutable_dataset()->mutable_synthetic()->set_train_samples(4000);
    spec.mutable_dataset()->mutable_synthetic()->set_test_samples(2000);
    spec.mutable_dataset()->set_validation_fraction(0.5);
    spec.set_epochs(1);
    VectorSink sink;
    TrainerOptions options;
    options.sink = &sink;
    absl::StatusOr<TrainingSummary> summary = Train(spec, options);
    ASSERT_TRUE(summary.ok()) << summary.status();
    const bool per_class = classes <= kMaxClassesWithPerClassMetrics;
    EXPECT_EQ(summary->final_metrics.count("eval_class_accuracy/0"), per_class ? 1u : 0u);
    EXPECT_EQ(summary->final_metrics.count("val_class_accuracy/0"), per_class ? 1u : 0u);
    EXPECT_EQ(summary->final_metrics.count("val_accuracy"), 1u);
    EXPECT_LE(summary->final_metrics.size(), static_cast<size_t>(kMaxValuesPerPoint)) << classes;
    for (const MetricPoint& p : sink.points) {
      EXPECT_LE(p.values_size(), kMaxValuesPerPoint) << classes << " classes, step " << p.step();
    }
  }
}

// The validation split is job.proto's formula, so that a user can tell which rows were held out:
// the first floor(n * f) of torch.randperm(n, generator=torch.Generator().manual_seed(seed ^
// 0x5eedda7a)), in that order; the rest train in file order.
TEST(TrainerTest, TheValidationSplitIsTheDocumentedDraw) {
  polytrain::v1::DatasetSpec spec = Spec(kSyntheticMlpSpec).dataset();
  spec.mutable_synthetic()->set_train_samples(203);
  absl::StatusOr<Dataset> whole = LoadDataset(spec, JobFiles{}, /*seed=*/3);
  ASSERT_TRUE(whole.ok()) << whole.status();
  spec.set_validation_fraction(0.2);
  absl::StatusOr<Dataset> split = LoadDataset(spec, JobFiles{}, /*seed=*/3);
  ASSERT_TRUE(split.ok()) << split.status();
  ASSERT_EQ(split->validation.size(), 40);  // floor(203 * 0.2)
  ASSERT_EQ(split->train.size(), 163);

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(uint64_t{3} ^ 0x5eedda7a);
  const torch::Tensor order = torch::randperm(203, generator, torch::kLong);
  const torch::Tensor held_out = order.narrow(0, 0, 40);
  EXPECT_TRUE(torch::equal(split->validation.x, whole->train.x.index_select(0, held_out)));
  EXPECT_TRUE(torch::equal(split->validation.y, whole->train.y.index_select(0, held_out)));
  const torch::Tensor kept = std::get<0>(order.narrow(0, 40, 163).sort());
  EXPECT_TRUE(torch::equal(split->train.x, whole->train.x.index_select(0, kept)));
  EXPECT_TRUE(torch::equal(split->test.x, whole->test.x));  // the test split is untouched
}

TEST(TrainerTest, EvalNllIsTheSameMeasureForEveryLoss) {
  // Trained with cross-entropy, the job's own loss is the negative log-likelihood (softmax), or
  // its mean per element, 1/classes of it (sigmoid with one-hot targets); trained with focal
  // loss, it is not, while eval_nll still is.
  std::map<std::string, std::map<std::string, double>> finals;
  for (const std::string loss :
       {"cross_entropy {}", "cross_entropy {} activation: ACTIVATION_SIGMOID",
        "focal { gamma: 2 }"}) {
    polytrain::v1::JobSpec spec = Spec(kSyntheticMlpSpec);
    ASSERT_TRUE(
        google::protobuf::TextFormat::MergeFromString("loss { " + loss + " } epochs: 1", &spec));
    absl::StatusOr<TrainingSummary> summary = Train(spec, TrainerOptions());
    ASSERT_TRUE(summary.ok()) << summary.status();
    finals[loss] = summary->final_metrics;
  }
  const auto& softmax = finals["cross_entropy {}"];
  EXPECT_NEAR(softmax.at("eval_nll"), softmax.at("eval_loss"), 1e-5 * softmax.at("eval_loss"));
  const auto& sigmoid = finals["cross_entropy {} activation: ACTIVATION_SIGMOID"];
  EXPECT_NEAR(sigmoid.at("eval_nll"), 5 * sigmoid.at("eval_loss"), 1e-5 * sigmoid.at("eval_nll"));
  const auto& focal = finals["focal { gamma: 2 }"];
  EXPECT_LT(focal.at("eval_loss"), 0.5 * focal.at("eval_nll"));
}

TEST(TrainerTest, SyntheticDataReachesNinetyPercent) {
  VectorSink sink;
  TrainerOptions options;
  options.sink = &sink;
  absl::StatusOr<TrainingSummary> summary = Train(Spec(kSyntheticMlpSpec), options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->steps, 3 * 47);
  EXPECT_EQ(summary->epochs_completed, 3);
  EXPECT_GE(summary->final_metrics.at("eval_accuracy"), 0.90);
  EXPECT_LT(summary->final_metrics.at("eval_ece"), 0.1);
  EXPECT_EQ(summary->final_metrics.count("eval_class_accuracy/4"), 1u);

  int train_points = 0, eval_points = 0;
  int64_t last_step = 0;
  for (const MetricPoint& p : sink.points) {
    EXPECT_GE(p.step(), last_step);
    last_step = p.step();
    if (p.kind() == MetricPoint::KIND_TRAIN) {
      ++train_points;
      for (const char* key :
           {"loss", "accuracy", "learning_rate", "samples_per_second", "grad_norm"}) {
        EXPECT_EQ(p.values().count(key), 1u) << key;
      }
      EXPECT_GT(p.values().at("grad_norm"), 0.0);
    } else {
      ++eval_points;
      EXPECT_EQ(p.epoch_progress(), 1.0);
    }
  }
  EXPECT_EQ(eval_points, 3);  // once per epoch, none repeated at the end
  EXPECT_GE(train_points, 141 / 5);
  // Warm-up then cosine: the first point's rate is below the peak, the last near the floor.
  EXPECT_DOUBLE_EQ(sink.points.front().values().at("learning_rate"), 0.05 * 5 / 10);
  EXPECT_NEAR(sink.points[sink.points.size() - 2].values().at("learning_rate"), 0.005, 1e-3);
}

TEST(TrainerTest, FashionMnistMlpOneEpochReachesEightyPercent) {
  const JobSpec spec = Spec(R"(
    name: "fmnist"
    model { mlp { hidden: [256, 256] } }
    dataset { fashion_mnist {} }
    loss { poly1 { epsilon: 2 } }
    optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
    epochs: 1
    batch_size: 128
    seed: 1
  )");
  absl::StatusOr<TrainingSummary> summary = Train(spec, TrainerOptions());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->steps, 469);  // 60000 / 128, the last batch partial
  EXPECT_GE(summary->final_metrics.at("eval_accuracy"), 0.80);
}

TEST(TrainerTest, SameSpecAndSeedGiveTheSameRun) {
  VectorSink first_sink, second_sink;
  TrainerOptions first, second;
  first.sink = &first_sink;
  second.sink = &second_sink;
  ModelState a, b;
  ASSERT_TRUE(Train(Spec(kSyntheticMlpSpec), first, &a).ok());
  ASSERT_TRUE(Train(Spec(kSyntheticMlpSpec), second, &b).ok());
  ExpectSameWeights(a, b);
  ASSERT_EQ(first_sink.points.size(), second_sink.points.size());
  for (size_t i = 0; i < first_sink.points.size(); ++i) {
    for (const char* key : {"loss", "accuracy", "eval_loss", "eval_accuracy"}) {
      const auto& va = first_sink.points[i].values();
      const auto& vb = second_sink.points[i].values();
      if (va.count(key)) {
        EXPECT_EQ(va.at(key), vb.at(key)) << key << " at point " << i;
      }
    }
  }
  // A different seed is a different run.
  JobSpec other = Spec(kSyntheticMlpSpec);
  other.set_seed(12);
  ModelState c;
  ASSERT_TRUE(Train(other, TrainerOptions(), &c).ok());
  EXPECT_FALSE(torch::equal(a[0].second, c[0].second));
}

TEST(TrainerTest, AugmentationChangesWhatIsTrainedOn) {
  JobSpec spec = Spec(R"(
    name: "augmented"
    model { mlp { hidden: [16] } }
    dataset { fashion_mnist {} train_limit: 128 test_limit: 64 }
    loss { cross_entropy {} }
    optimizer { sgd {} learning_rate: 0.05 }
    max_steps: 4
    batch_size: 32
    seed: 9
  )");
  absl::StatusOr<TrainingSummary> plain = testing_util::Train(spec, TrainerOptions());
  spec.mutable_dataset()->mutable_augment()->set_horizontal_flip(true);
  absl::StatusOr<TrainingSummary> flipped = testing_util::Train(spec, TrainerOptions());
  spec.mutable_dataset()->mutable_augment()->set_horizontal_flip(false);
  spec.mutable_dataset()->mutable_augment()->set_random_crop_padding(2);
  absl::StatusOr<TrainingSummary> cropped = testing_util::Train(spec, TrainerOptions());
  ASSERT_TRUE(plain.ok() && flipped.ok() && cropped.ok());
  EXPECT_NE(plain->final_metrics.at("eval_loss"), flipped->final_metrics.at("eval_loss"));
  EXPECT_NE(plain->final_metrics.at("eval_loss"), cropped->final_metrics.at("eval_loss"));
  // Vectors cannot be flipped: the job is refused before training, naming the field.
  spec.mutable_dataset()->mutable_synthetic()->set_classes(2);
  spec.mutable_dataset()->mutable_synthetic()->set_features(4);
  spec.mutable_dataset()->mutable_synthetic()->set_train_samples(10);
  spec.mutable_dataset()->mutable_synthetic()->set_test_samples(10);
  absl::StatusOr<TrainingSummary> vectors = testing_util::Train(spec, TrainerOptions());
  EXPECT_EQ(vectors.status().message(),
            "spec.dataset.augment: needs image samples ([H, W] or [C, H, W]); these are [4]");
}

TEST(TrainerTest, NonFiniteLossStopsTheJob) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_dataset()->mutable_synthetic()->set_separation(100);
  spec.mutable_optimizer()->set_learning_rate(10);
  spec.mutable_optimizer()->mutable_sgd()->set_momentum(0.99);
  spec.mutable_loss()->mutable_focal()->set_gamma(0.5);
  spec.clear_schedule();
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(spec, TrainerOptions());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  absl::StatusOr<TrainingSummary> summary = (*trainer)->Run();
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kAborted) << summary.status();
  EXPECT_NE(summary.status().message().find("training diverged: the loss is"), std::string::npos);
  // How far it trained: the steps before the one whose loss was not finite, logged or not.
  const std::string message(summary.status().message());
  const size_t at = message.find(" at step ");
  ASSERT_NE(at, std::string::npos) << message;
  EXPECT_EQ((*trainer)->steps_run() + 1, std::stoll(message.substr(at + 9))) << message;
  EXPECT_EQ(message.find("inputs"), std::string::npos) << message;  // they are not the cause
}

// Inputs a normalize scaled to 1e20 diverge whatever the learning rate (at the first step or
// after it): the error says so.
TEST(TrainerTest, ADivergenceFromHugeInputsNamesThem) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.mutable_dataset()->mutable_normalize()->add_mean(0);
  spec.mutable_dataset()->mutable_normalize()->add_std(1e-20);
  absl::StatusOr<TrainingSummary> summary = testing_util::Train(spec, TrainerOptions());
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kAborted) << summary.status();
  EXPECT_NE(summary.status().message().find("; the training inputs reach |x| = "),
            std::string::npos)
      << summary.status();
  EXPECT_NE(summary.status().message().find(
                " after spec.dataset.normalize: bring them nearer to unit scale"),
            std::string::npos)
      << summary.status();
}

TEST(TrainerTest, CancelStopsBeforeTheNextStep) {
  std::atomic<bool> cancel{true};
  TrainerOptions options;
  options.cancel = &cancel;
  absl::StatusOr<TrainingSummary> summary = Train(Spec(kSyntheticMlpSpec), options);
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(summary.status().message(), "cancelled at step 0");
}

TEST(TrainerTest, JobsThatCannotRunAreRefusedBeforeTraining) {
  auto error = [](const JobSpec& spec, TrainerOptions options = TrainerOptions()) {
    return Trainer::Create(spec, options).status();
  };
  JobSpec bad = Spec(kSyntheticMlpSpec);
  bad.set_batch_size(0);
  EXPECT_EQ(error(bad).message(), "spec.batch_size: must be in [1, 65536], got 0");

  JobSpec cnn = Spec(kSyntheticMlpSpec);
  cnn.mutable_model()->mutable_cnn();
  EXPECT_EQ(error(cnn).message(),
            "spec.model.cnn: needs image samples [C, H, W]; this dataset's samples are [20]");

  JobSpec weights = Spec(kSyntheticMlpSpec);
  weights.mutable_loss()->add_class_weights(1);
  weights.mutable_loss()->add_class_weights(2);
  EXPECT_EQ(error(weights).message(),
            "spec.loss.class_weights: has 2 entries but the dataset has 5 classes");

  JobSpec outside = Spec(kSyntheticMlpSpec);
  auto* idx = outside.mutable_dataset()->mutable_idx();
  idx->set_train_images("/etc/passwd");
  idx->set_train_labels("fashion-mnist/train-labels-idx1-ubyte.gz");
  idx->set_test_images("fashion-mnist/t10k-images-idx3-ubyte.gz");
  idx->set_test_labels("fashion-mnist/t10k-labels-idx1-ubyte.gz");
  const absl::Status escaped = error(outside);
  EXPECT_EQ(escaped.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(escaped.message().find("spec.dataset.idx.train_images: must stay inside the data root"),
            std::string::npos)
      << escaped;

  JobSpec missing = Spec(kSyntheticMlpSpec);
  missing.mutable_dataset()->mutable_fashion_mnist()->set_dir("no-such-dataset");
  EXPECT_EQ(error(missing).code(), absl::StatusCode::kNotFound);

  // IDX files with no samples: refused naming the field and the file as the job gave it.
  const std::string root = TempDir("empty_idx");
  fs::create_directories(root);
  auto write_idx = [&](const std::string& name, std::vector<uint8_t> header) {
    std::ofstream(root + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(header.data()), header.size());
  };
  write_idx("empty-images", {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28});
  write_idx("empty-labels", {0, 0, 8, 1, 0, 0, 0, 0});
  JobSpec empty = Spec(kSyntheticMlpSpec);
  auto* files = empty.mutable_dataset()->mutable_idx();
  files->set_train_images("empty-images");
  files->set_train_labels("empty-labels");
  files->set_test_images("empty-images");
  files->set_test_labels("empty-labels");
  TrainerOptions in_root;
  in_root.data_root = root;
  EXPECT_EQ(error(empty, in_root).message(),
            "spec.dataset.idx.train_images: 'empty-images' holds no samples");
  // Images of no rows, and test labels beyond the classes the training labels name.
  write_idx("zero-height", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8});
  files->set_train_images("zero-height");
  EXPECT_EQ(error(empty, in_root).message(),
            "spec.dataset.idx.train_images: 'zero-height' is [2, 0, 8]; a sample dimension of 0 "
            "holds nothing");
  write_idx("tiny-images", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 5, 9});
  write_idx("low-labels", {0, 0, 8, 1, 0, 0, 0, 2, 0, 1});
  write_idx("high-labels", {0, 0, 8, 1, 0, 0, 0, 2, 9, 1});
  files->set_train_images("tiny-images");
  files->set_train_labels("low-labels");
  files->set_test_images("tiny-images");
  files->set_test_labels("high-labels");
  EXPECT_EQ(error(empty, in_root).message(),
            "spec.dataset.idx.test_labels: 'high-labels' holds class 9 but 'low-labels' names 2 "
            "classes (0 to 1)");

  JobSpec cuda = Spec(kSyntheticMlpSpec);
  cuda.set_device(polytrain::v1::DEVICE_CUDA);
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(error(cuda).code(), absl::StatusCode::kFailedPrecondition);
  }
}

// The logged training loss is per sample for either reduction: at the first step (the same
// initial weights and batch) a sum's point equals a mean's.
TEST(TrainerTest, TheLoggedLossIsPerSampleForASumToo) {
  JobSpec spec = Spec(kSyntheticMlpSpec);
  spec.set_log_every_steps(1);
  spec.set_max_steps(1);
  VectorSink mean_sink, sum_sink;
  TrainerOptions options;
  options.sink = &mean_sink;
  ASSERT_TRUE(Train(spec, options).ok());
  spec.mutable_loss()->set_reduction(polytrain::v1::REDUCTION_SUM);
  options.sink = &sum_sink;
  ASSERT_TRUE(Train(spec, options).ok());
  auto first_loss = [](const VectorSink& sink) {
    for (const MetricPoint& p : sink.points) {
      if (p.kind() == MetricPoint::KIND_TRAIN) return p.values().at("loss");
    }
    return -1.0;
  };
  EXPECT_GT(first_loss(mean_sink), 0.0);
  EXPECT_NEAR(first_loss(sum_sink), first_loss(mean_sink), 1e-6 * first_loss(mean_sink));
}

}  // namespace
}  // namespace polytrain
