#include "api/job_spec.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "api/job_spec_defaults.h"
#include "api/limits.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;

constexpr char kValid[] = R"(
  name: "ok-job_1.2"
  labels { key: "team/vision" value: "x" }
  model { mlp { hidden: [16] } }
  dataset { synthetic { classes: 3 features: 4 train_samples: 10 test_samples: 10 separation: 1 } }
  loss { poly1 { epsilon: 1 } }
  optimizer { sgd { momentum: 0.9 } learning_rate: 0.1 }
  epochs: 1
  batch_size: 4
)";

// The valid spec with the top-level fields written in `extra` replaced (not merged).
JobSpec Spec(const std::string& extra = "") {
  JobSpec spec, overrides;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kValid, &spec));
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(extra, &overrides)) << extra;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  overrides.GetReflection()->ListFields(overrides, &fields);
  for (const auto* field : fields) spec.GetReflection()->ClearField(&spec, field);
  spec.MergeFrom(overrides);
  return spec;
}

void ExpectInvalid(const std::string& extra, const std::string& message) {
  const absl::Status status = ValidateJobSpec(Spec(extra));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << extra;
  EXPECT_EQ(std::string(status.message()), message) << extra;
}

void ExpectValid(const std::string& extra) {
  EXPECT_TRUE(ValidateJobSpec(Spec(extra)).ok()) << extra << ": " << ValidateJobSpec(Spec(extra));
}

// For zero values, which text format cannot tell apart from "not written".
void ExpectInvalidAfter(const std::function<void(JobSpec&)>& change, const std::string& message) {
  JobSpec spec = Spec();
  change(spec);
  EXPECT_EQ(std::string(ValidateJobSpec(spec).message()), message);
}

// A dataset with a source, for the fields beside it.
const std::string kDatasetWith =
    "dataset { synthetic { classes: 2 features: 4 train_samples: 10 test_samples: 10 } ";

TEST(JobSpecTest, ValidSpecPasses) { EXPECT_TRUE(ValidateJobSpec(Spec()).ok()); }

TEST(JobSpecTest, EveryFieldErrorNamesItsPath) {
  ExpectInvalidAfter([](JobSpec& s) { s.clear_name(); },
                     "spec.name: length must be in [1, 128] characters, got 0");
  ExpectInvalid("name: '" + std::string(129, 'a') + "'",
                "spec.name: length must be in [1, 128] characters, got 129");
  ExpectInvalid("name: 'a b'", "spec.name: use only [A-Za-z0-9._-], got 'a b'");
  ExpectInvalid("labels { key: 'Bad' value: '' }",
                "spec.labels[\"Bad\"]: keys use only [a-z0-9._-/]");
  // A key is named as a reader reads it: its characters, what cannot be seen escaped.
  ExpectInvalid("labels { key: '\xE6\xA8\xA1\xE2\x80\xAE\\\"' value: '' }",
                "spec.labels[\"\xE6\xA8\xA1\\u202e\\\"\"]: keys use only [a-z0-9._-/]");
  ExpectInvalid("model { mlp { hidden: [16, 0] } }",
                "spec.model.mlp.hidden[1]: must be in [1, 65536], got 0");
  ExpectInvalid("model { mlp { dropout: 1 } }", "spec.model.mlp.dropout: must be in [0, 1), got 1");
  ExpectInvalid("model { cnn { channels: [8, 2000] } }",
                "spec.model.cnn.channels[1]: must be in [1, 1024], got 2000");
  ExpectInvalid("model { resnet { blocks_per_stage: 17 } }",
                "spec.model.resnet.blocks_per_stage: must be in [0, 16], got 17");
  ExpectInvalid("model { }",
                "spec.model.architecture: no model set: choose mlp, cnn, resnet or torchscript");
  ExpectInvalid("model { torchscript { } }", "spec.model.torchscript.path: set path or artifact");
  ExpectInvalid("model { torchscript { path: 'a/../../m.pt' } }",
                "spec.model.torchscript.path: must stay inside the data root; '..' is not "
                "allowed, got 'a/../../m.pt'");
  ExpectInvalidAfter(
      [](JobSpec& s) {
        s.mutable_model()->mutable_torchscript()->set_path("m.pt");
        s.mutable_model()->mutable_torchscript()->set_init(
            static_cast<polytrain::v1::TorchScriptModel::Init>(7));
      },
      "spec.model.torchscript.init: unknown value 7");
  ExpectInvalid("dataset { tensors { } }", "spec.dataset.tensors.path: set path or artifact");
  ExpectInvalid("dataset { tensors { path: '../data.pt' } }",
                "spec.dataset.tensors.path: must stay inside the data root; '..' is not allowed, "
                "got '../data.pt'");
  ExpectInvalid("dataset { synthetic { classes: 1 } }",
                "spec.dataset.synthetic.classes: must be in [2, 1000], got 1");
  ExpectInvalid("dataset { synthetic { classes: 2 features: 4 train_samples: 0 } }",
                "spec.dataset.synthetic.train_samples: must be in [1, 10000000], got 0");
  ExpectInvalid(
      "dataset { synthetic { classes: 2 features: 4096 train_samples: 100000 test_samples: 1 } }",
      "spec.dataset.synthetic: features x samples must be at most 200000000 (800 MB)");
  ExpectInvalid("dataset { fashion_mnist { dir: '../etc' } }",
                "spec.dataset.fashion_mnist.dir: must stay inside the data root; '..' is not "
                "allowed, got '../etc'");
  ExpectInvalid(kDatasetWith + "augment { random_crop_padding: 65 } }",
                "spec.dataset.augment.random_crop_padding: must be in [0, 64], got 65");
  ExpectInvalid(kDatasetWith + "normalize { } }",
                "spec.dataset.normalize.mean: needs 1 to 1024 values (one per channel, or one), "
                "got 0");
  ExpectInvalid(kDatasetWith + "normalize { mean: [0.5] std: [0.2, 0.3] } }",
                "spec.dataset.normalize.std: needs as many values as mean (1), got 2");
  ExpectInvalid(kDatasetWith + "normalize { mean: [0.5, 0.1] std: [0.2, 0] } }",
                "spec.dataset.normalize.std[1]: must be >= 1e-30, got 0");
  ExpectInvalid(kDatasetWith + "normalize { mean: [nan] std: [1] } }",
                "spec.dataset.normalize.mean[0]: must be a finite number, got nan");
  // Built-in data's samples have a known shape: what the worker would refuse of it, now.
  ExpectInvalid(kDatasetWith + "} model { cnn { } }",
                "spec.model.cnn: needs image samples [C, H, W]; this dataset's samples are [4]");
  ExpectInvalid(kDatasetWith + "} model { resnet { } }",
                "spec.model.resnet: needs image samples [C, H, W]; this dataset's samples are [4]");
  ExpectInvalid(kDatasetWith + "augment { horizontal_flip: true } }",
                "spec.dataset.augment: needs image samples ([H, W] or [C, H, W]); these are [4]");
  ExpectInvalid(kDatasetWith + "normalize { mean: [0, 0, 0] std: [1, 1, 1] } }",
                "spec.dataset.normalize.mean: has 3 values, but samples [4] have 1 channel(s): "
                "give one per channel, or one");
  ExpectInvalid("dataset { fashion_mnist { } normalize { mean: [0, 0] std: [1, 1] } }",
                "spec.dataset.normalize.mean: has 2 values, but samples [1, 28, 28] have 1 "
                "channel(s): give one per channel, or one");
  EXPECT_TRUE(ValidateJobSpec(Spec("dataset { fashion_mnist { } normalize { mean: [0.3] std: [0.4] "
                                   "} augment { random_crop_padding: 4 horizontal_flip: true } }"))
                  .ok());
  ExpectValid(kDatasetWith + "normalize { mean: [0.3] std: [0.4] } }");
  ExpectInvalid("dataset { idx { train_images: 'a' train_labels: 'b' test_images: 'c' } }",
                "spec.dataset.idx.test_labels: must be set");
  ExpectInvalid(
      "dataset { synthetic { classes: 3 features: 4 train_samples: 10 test_samples: 10 separation: "
      "1 } validation_fraction: 0.6 }",
      "spec.dataset.validation_fraction: must be <= 0.5, got 0.6");
  ExpectInvalid(
      "dataset { synthetic { classes: 3 features: 4 train_samples: 9 test_samples: 10 separation: "
      "1 } validation_fraction: 0.1 }",
      "spec.dataset.validation_fraction: 0.1 of 9 training samples is less than one sample: no "
      "validation split; raise it or use more samples");
  ExpectInvalid(
      "dataset { synthetic { classes: 3 features: 4 train_samples: 10 test_samples: 10 separation: "
      "1 } train_limit: -1 }",
      "spec.dataset.train_limit: must be in [0, 10000000], got -1");
  ExpectInvalid("loss { poly_n { epsilons: [1, -0.6] } }",
                "spec.loss.poly_n.epsilons[1]: must be >= -1/2, got -0.6");
  ExpectInvalid("optimizer { sgd {} learning_rate: 0 }",
                "spec.optimizer.learning_rate: must be > 0, got 0");
  ExpectInvalid("optimizer { sgd {} learning_rate: -1 }",
                "spec.optimizer.learning_rate: must be > 0, got -1");
  ExpectInvalid("optimizer { sgd {} learning_rate: 11 }",
                "spec.optimizer.learning_rate: must be <= 10, got 11");
  ExpectInvalid("optimizer { sgd { nesterov: true } learning_rate: 0.1 }",
                "spec.optimizer.sgd.nesterov: needs momentum > 0");
  ExpectInvalid("optimizer { adam { beta2: 1 } learning_rate: 0.1 }",
                "spec.optimizer.adam.beta2: must be in (0, 1), got 1");
  ExpectInvalid("optimizer { adam { beta2: -0.1 } learning_rate: 0.1 }",
                "spec.optimizer.adam.beta2: must be in (0, 1), got -0.1");
  EXPECT_TRUE(ValidateJobSpec(Spec("optimizer { adam {} learning_rate: 0.1 }")).ok());
  ExpectInvalid("optimizer { sgd {} learning_rate: 1e-39 }",
                "spec.optimizer.learning_rate: 1e-39 is below 1.1754943508222875e-38, float32's "
                "smallest normal number (the weights are float32: too small to change them)");
  ExpectValid("optimizer { sgd {} learning_rate: 1.1754943508222875e-38 }");
  ExpectInvalid("optimizer { adamw { beta2: 0 } learning_rate: 0.1 }",
                "spec.optimizer.adamw.beta2: 0 is refused (it once meant the default); leave the "
                "field out for torch's 0.999");
  ExpectInvalid("optimizer { sgd {} learning_rate: nan }",
                "spec.optimizer.learning_rate: must be a finite number, got nan");
  ExpectInvalid("schedule { step { step_size: 0 gamma: 0.5 } }",
                "spec.schedule.step.step_size: must be in [1, 1000000000], got 0");
  ExpectInvalid("schedule { step { step_size: 10 gamma: 0 } }",
                "spec.schedule.step.gamma: must be > 0, got 0");
  ExpectInvalid("schedule { step { step_size: 10 gamma: -0.5 } }",
                "spec.schedule.step.gamma: must be > 0, got -0.5");
  ExpectInvalidAfter([](JobSpec& s) { s.set_epochs(0); },
                     "spec.epochs: set epochs or max_steps (both are 0)");
  ExpectInvalid("epochs: 10001", "spec.epochs: must be in [0, 10000], got 10001");
  ExpectInvalidAfter([](JobSpec& s) { s.set_batch_size(0); },
                     "spec.batch_size: must be in [1, 65536], got 0");
  ExpectInvalid("batch_size: 65537", "spec.batch_size: must be in [1, 65536], got 65537");
  ExpectInvalid("eval { calibration_bins: 1001 }",
                "spec.eval.calibration_bins: must be in [0, 1000], got 1001");
  ExpectInvalid("checkpoint { keep_last: -1 }",
                "spec.checkpoint.keep_last: must be in [0, 1000], got -1");
  ExpectInvalid("threads: 257", "spec.threads: must be in [0, 256], got 257");
  ExpectInvalid("priority: 1001", "spec.priority: must be in [-1000, 1000], got 1001");
  ExpectInvalid("max_attempts: 101", "spec.max_attempts: must be in [0, 100], got 101");
  ExpectInvalid("time_limit_seconds: -1",
                "spec.time_limit_seconds: must be in [0, 31536000], got -1");
  ExpectInvalid("time_limit_seconds: 31536001",
                "spec.time_limit_seconds: must be in [0, 31536000], got 31536001");
  JobSpec bad_device = Spec();
  bad_device.set_device(static_cast<polytrain::v1::Device>(9));
  EXPECT_EQ(ValidateJobSpec(bad_device).message(), "spec.device: unknown value 9");
  JobSpec bad_precision = Spec();
  bad_precision.set_precision(static_cast<polytrain::v1::Precision>(3));
  EXPECT_EQ(ValidateJobSpec(bad_precision).message(), "spec.precision: unknown value 3");
  JobSpec bf16 = Spec();
  bf16.set_precision(polytrain::v1::PRECISION_BF16);
  EXPECT_TRUE(ValidateJobSpec(bf16).ok());
  JobSpec no_loss = Spec();
  no_loss.clear_loss();
  EXPECT_EQ(ValidateJobSpec(no_loss).message(), "spec.loss: must be set");
}

// What would fail every run on the worker whatever the data holds is refused at submit (probe
// CX: each of these was accepted, then failed the job).
TEST(JobSpecTest, ValuesThatFailEveryRunAreRefusedAtSubmit) {
  // Adam's eps below float32's smallest normal number is 0 in the moments' float32.
  ExpectInvalid("optimizer { adam { eps: 1e-46 } learning_rate: 0.1 }",
                "spec.optimizer.adam.eps: 1e-46 is below 1.1754943508222875e-38, float32's "
                "smallest normal number (the moments are float32: a smaller eps would be 0 "
                "there or lose its digits)");
  ExpectInvalid("optimizer { adamw { eps: 5e-324 } learning_rate: 0.1 }",
                "spec.optimizer.adamw.eps: 4.94066e-324 is below "
                "1.1754943508222875e-38, float32's smallest normal number (the moments are "
                "float32: a smaller eps would be 0 there or lose its digits)");
  for (const char* eps : {"0", "1.1754943508222875e-38", "1e-8", "1"}) {
    ExpectValid(absl::StrCat("optimizer { adam { eps: ", eps, " } learning_rate: 0.1 }"));
  }
  // A mean and std at their limits: (x - 1e30) / 1e-30 is past float32's range for every float32
  // x but the mean itself. The opposite corner, and the smallest std at mean 0, stay finite.
  const std::string infinite =
      " makes every float32 value but the mean itself infinite once normalized ((x - mean) / std "
      "is past float32's range)";
  ExpectInvalid(
      kDatasetWith + "normalize { mean: [1e30] std: [1e-30] } }",
      "spec.dataset.normalize.std[0]: 1e-30 with spec.dataset.normalize.mean[0] 1e+30" + infinite);
  ExpectInvalid(
      kDatasetWith + "normalize { mean: [-1e25] std: [1e-21] } }",
      "spec.dataset.normalize.std[0]: 1e-21 with spec.dataset.normalize.mean[0] -1e+25" + infinite);
  for (const char* pair :
       {"mean: [-1e30] std: [1e30]", "mean: [0] std: [1e-30]", "mean: [1e25] std: [1e-20]"}) {
    ExpectValid(absl::StrCat(kDatasetWith, "normalize { ", pair, " } }"));
  }
  // At a power of two the float32 spacing below the mean is half the one above: 2^99's nearest
  // neighbour is 2^75 away, and 2^75 / (1.5 * 2^-53) is within float32's range, 2^75 / 2^-53
  // is not.
  ExpectValid(kDatasetWith +
              "normalize { mean: [6.338253001141147e29] std: [1.6653345369377348e-16] } }");
  ExpectInvalid(
      kDatasetWith + "normalize { mean: [6.338253001141147e29] std: [1.1102230246251565e-16] } }",
      "spec.dataset.normalize.std[0]: 1.1102230246251565e-16 with spec.dataset.normalize.mean[0] "
      "6.338253001141147e+29" +
          infinite);
  // drop_last with a batch larger than synthetic data's training split (after the held-out
  // validation samples, floor(n * fraction), and then train_limit), whose size is known at
  // submit.
  const std::string synthetic =
      "dataset { synthetic { classes: 2 features: 4 train_samples: 64 test_samples: 8 } ";
  auto dropped = [](int held, int batch) {
    return absl::StrCat("spec.drop_last: the training split holds ", held,
                        " samples, fewer than batch_size (", batch,
                        "): every batch would be "
                        "dropped");
  };
  ExpectInvalid(synthetic + "} drop_last: true batch_size: 65", dropped(64, 65));
  ExpectValid(synthetic + "} drop_last: true batch_size: 64");
  ExpectValid(synthetic + "} batch_size: 65");
  ExpectInvalid(synthetic + "validation_fraction: 0.25 } drop_last: true batch_size: 49",
                dropped(48, 49));
  ExpectValid(synthetic + "validation_fraction: 0.25 } drop_last: true batch_size: 48");
  ExpectInvalid(synthetic + "train_limit: 10 } drop_last: true batch_size: 11", dropped(10, 11));
  ExpectInvalid(synthetic + "validation_fraction: 0.3 } drop_last: true batch_size: 46",
                dropped(45, 46));
  ExpectValid(synthetic + "validation_fraction: 0.3 } drop_last: true batch_size: 45");
  ExpectInvalid(synthetic + "train_limit: 100 } drop_last: true batch_size: 65", dropped(64, 65));
  ExpectInvalid(
      synthetic + "validation_fraction: 0.5 train_limit: 40 } drop_last: true batch_size: 33",
      dropped(32, 33));
}

// The first error is the first field's: these checks of known data keep their fields' places.
TEST(JobSpecTest, ChecksOfKnownDataKeepTheirFieldsOrder) {
  // dataset (field 4) before optimizer (6).
  ExpectInvalid(
      "dataset { synthetic { classes: 3 features: 4 train_samples: 9 test_samples: 10 } "
      "validation_fraction: 0.1 } optimizer { sgd {} learning_rate: 0 }",
      "spec.dataset.validation_fraction: 0.1 of 9 training samples is less than one sample: no "
      "validation split; raise it or use more samples");
  // drop_last (23) after threads (16).
  ExpectInvalid(
      "dataset { synthetic { classes: 3 features: 4 train_samples: 9 test_samples: 10 } } "
      "drop_last: true batch_size: 10 threads: 9999",
      "spec.threads: must be in [0, 256], got 9999");
}

TEST(JobSpecTest, ATrainingJobReducesItsLossToOneNumber) {
  ExpectInvalid("loss { cross_entropy {} reduction: REDUCTION_NONE }",
                "spec.loss.reduction: a training job needs REDUCTION_MEAN or REDUCTION_SUM, got "
                "REDUCTION_NONE");
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} reduction: REDUCTION_SUM }")).ok());
  loss::LossConfig config;
  ASSERT_TRUE(ValidateJobSpec(Spec(), "spec", &config).ok());
  EXPECT_EQ(config.series.extra, std::vector<double>{1.0});  // poly1 { epsilon: 1 }
}

TEST(JobSpecTest, ClassWeightsFitADatasetWhoseClassesAreKnownAtSubmit) {
  ExpectInvalid("loss { cross_entropy {} class_weights: [1, 2] }",
                "spec.loss.class_weights: has 2 entries but the dataset has 3 classes");
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} class_weights: [1, 2, 3] }")).ok());
  ExpectInvalid("loss { cross_entropy {} class_weights: [1, 2, 3] } dataset { fashion_mnist {} }",
                "spec.loss.class_weights: has 3 entries but the dataset has 10 classes");
  // A file's classes are known once the worker reads it: checked there.
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} class_weights: [1, 2] } "
                                   "dataset { tensors { path: 'data.pt' } }"))
                  .ok());
}

// A softmax loss's ignored class is one of the dataset's (torch's habitual -100 ignores nothing
// in a training job); a sigmoid loss's compares element values, any in range.
TEST(JobSpecTest, AnIgnoredClassIsOneOfTheDatasets) {
  for (const char* outside : {"-100", "3", "-9223372036854775808"}) {
    ExpectInvalid(absl::StrCat("loss { cross_entropy {} ignore_index: ", outside, " }"),
                  absl::StrCat("spec.loss.ignore_index: ", outside,
                               " is no class of the dataset (its labels are in [0, 3)), so it "
                               "would ignore nothing; leave it unset for that"));
  }
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} ignore_index: 0 }")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} ignore_index: 2 }")).ok());
  EXPECT_TRUE(ValidateJobSpec(
                  Spec("loss { cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: -1 }"))
                  .ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("loss { cross_entropy {} ignore_index: -100 } "
                                   "dataset { tensors { path: 'data.pt' } }"))
                  .ok());
}

TEST(JobSpecTest, AModelTooLargeForAnyDataIsRefusedAtSubmit) {
  // Synthetic data of 4096 features, 3 classes: 4097 x 65536 + 65537 x 10000 + 10001 x 3
  // parameters (924 million) pass; a second layer of 15000 (1.25 billion) does not.
  const std::string data =
      " dataset { synthetic { classes: 3 features: 4096 train_samples: 10 test_samples: 10 } }";
  EXPECT_TRUE(ValidateJobSpec(Spec("model { mlp { hidden: [65536, 10000] } }" + data)).ok());
  ExpectInvalid("model { mlp { hidden: [65536, 15000] } }" + data,
                "spec.model.mlp.hidden: makes a model of 1,251,600,995 parameters for samples "
                "[4096] and 3 classes; the most is 1,000,000,000");
  // Fashion-MNIST's shape is known; a file's is not, so its bound is what no data could fit.
  ExpectInvalid("model { cnn { channels: [1024] hidden: 65536 } } dataset { fashion_mnist {} }",
                "spec.model.cnn: makes a model of 13,154,068,490 parameters for samples "
                "[1, 28, 28] and 10 classes; the most is 1,000,000,000");
  EXPECT_TRUE(ValidateJobSpec(Spec("model { cnn { channels: [1024] hidden: 65536 } } "
                                   "dataset { tensors { path: 'data.pt' } }"))
                  .ok());
  ExpectInvalid("model { mlp { hidden: [65536, 65536] } } dataset { tensors { path: 'd.pt' } }",
                "spec.model.mlp.hidden: makes a model of 4,295,294,978 parameters for samples "
                "[1, 1, 1] and 2 classes; the most is 1,000,000,000");
}

// Fashion-MNIST's 28 x 28 images take 4 blocks (28 -> 14 -> 7 -> 3 -> 1): a fifth would fail on
// the worker, so it is refused at submit; a file's images may be larger.
TEST(JobSpecTest, ACnnOfMoreBlocksThanTheImageTakesIsRefusedAtSubmit) {
  const std::string fashion = " dataset { fashion_mnist {} }";
  EXPECT_TRUE(ValidateJobSpec(Spec("model { cnn { channels: [1, 1, 1, 1] } }" + fashion)).ok());
  ExpectInvalid("model { cnn { channels: [1, 1, 1, 1, 1] } }" + fashion,
                "spec.model.cnn.channels: 5 blocks are too many for samples [1, 28, 28]: each "
                "block halves the image (28 -> 14 -> 7 -> 3 -> 1), so at most 4 fit");
  EXPECT_TRUE(ValidateJobSpec(Spec("model { cnn { channels: [1, 1, 1, 1, 1, 1, 1, 1] } } "
                                   "dataset { tensors { path: 'data.pt' } }"))
                  .ok());
}

TEST(JobSpecTest, ASweepBaseNeedsNoLossButEverythingElse) {
  JobSpec base = Spec();
  base.clear_loss();
  EXPECT_TRUE(ValidateSweepBase(base, "base").ok());
  base.set_batch_size(0);
  EXPECT_EQ(ValidateSweepBase(base, "base").message(),
            "base.batch_size: must be in [1, 65536], got 0");
}

TEST(JobSpecTest, ErrorsQuoteAtMostAShortPrefixOfAValue) {
  const std::string path = std::string(4000, '.') + "/../x";
  const absl::Status status =
      ValidateJobSpec(Spec("dataset { fashion_mnist { dir: '" + path + "' } }"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(status.message().size(), 200u) << status.message();
  EXPECT_NE(status.message().find("(4005 characters)"), std::string::npos) << status.message();
}

TEST(JobSpecTest, LimitsHoldAtTheirEdges) {
  EXPECT_TRUE(ValidateJobSpec(Spec("name: '" + std::string(128, 'a') + "'")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("batch_size: 65536 threads: 256 epochs: 10000")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("epochs: 0 max_steps: 1000000000")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("dataset { synthetic { classes: 3 features: 4 train_samples: 10 "
                                   "test_samples: 10 separation: 1 } validation_fraction: 0.5 }"))
                  .ok());
  // One sample held out is enough (0.1 of 10; 0.1 of 9 is refused).
  EXPECT_TRUE(ValidateJobSpec(Spec("dataset { synthetic { classes: 3 features: 4 train_samples: 10 "
                                   "test_samples: 10 separation: 1 } validation_fraction: 0.1 }"))
                  .ok());
  // Data whose samples' shape is known only to the worker (a tensor file).
  EXPECT_TRUE(ValidateJobSpec(Spec("dataset { tensors { path: 'images.pt' } augment { "
                                   "random_crop_padding: 64 } }"))
                  .ok());
  JobSpec channels = Spec("dataset { tensors { path: 'images.pt' } }");
  for (int i = 0; i < kMaxNormalizedChannels; ++i) {
    channels.mutable_dataset()->mutable_normalize()->add_mean(0.5);
    channels.mutable_dataset()->mutable_normalize()->add_std(0.25);
  }
  EXPECT_TRUE(ValidateJobSpec(channels).ok());
  JobSpec labels = Spec();
  labels.mutable_labels()->clear();
  for (int i = 0; i < kMaxLabels; ++i) (*labels.mutable_labels())["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(ValidateJobSpec(labels).ok());
  (*labels.mutable_labels())["one-more"] = "v";
  EXPECT_EQ(ValidateJobSpec(labels).message(), "spec.labels: at most 32 labels, got 33");
  // A value's limit counts characters, not bytes: 256 two-byte characters are the edge.
  JobSpec accents = Spec();
  std::string value;
  for (int i = 0; i < 256; ++i) value += "\xC3\xA9";
  (*accents.mutable_labels())["note"] = value;
  EXPECT_TRUE(ValidateJobSpec(accents).ok()) << ValidateJobSpec(accents);
  (*accents.mutable_labels())["note"] = value + "\xC3\xA9";
  EXPECT_EQ(ValidateJobSpec(accents).message(),
            "spec.labels[\"note\"]: length must be in [0, 256] characters, got 257");
}

TEST(JobSpecTest, ReplicasSplitTheGlobalBatchEvenly) {
  EXPECT_TRUE(ValidateJobSpec(Spec("replicas: 1 batch_size: 3")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("replicas: 64 batch_size: 128")).ok());
  EXPECT_TRUE(ValidateJobSpec(Spec("replicas: 2 batch_size: 4")).ok());
  ExpectInvalid("replicas: 65 batch_size: 130", "spec.replicas: must be in [0, 64], got 65");
  ExpectInvalid("replicas: -1", "spec.replicas: must be in [0, 64], got -1");
  ExpectInvalid("replicas: 3 batch_size: 4",
                "spec.batch_size: 4 is not a multiple of replicas (3): each replica takes "
                "batch_size / replicas");
  EXPECT_EQ(Replicas(Spec()), 1);
  EXPECT_EQ(Replicas(Spec("replicas: 4")), 4);
}

TEST(JobSpecTest, DefaultsForZeroValues) {
  const JobSpec spec = Spec();
  EXPECT_EQ(EvalBatchSize(spec), 1024);
  EXPECT_EQ(CalibrationBins(spec), 15);
  EXPECT_EQ(CheckpointKeepLast(spec), 2);
  EXPECT_EQ(LogEverySteps(spec), 10);
  EXPECT_EQ(Threads(spec), 1);
  EXPECT_EQ(MaxAttempts(spec), 3);
  EXPECT_EQ(CnnChannels(polytrain::v1::Cnn()), (std::vector<int>{32, 64}));
  EXPECT_EQ(ResNetChannels(polytrain::v1::ResNet()), (std::vector<int>{16, 32, 64}));
}

}  // namespace
}  // namespace polytrain
