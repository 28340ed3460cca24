// Multi-label data: a tensor file whose train_y is [N, C] trains with a sigmoid loss, is scored
// label by label, and is refused with clear errors where the loss or the targets do not fit.
#include "worker/multi_label.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "worker/byo_test_fixture.h"
#include "worker/trainer_test_util.h"

namespace polytrain {
namespace {

using polytrain::v1::JobSpec;
using testing_util::ModelState;
using testing_util::Spec;
using testing_util::Train;
using testing_util::VectorSink;

class MultiLabelTest : public ByoFixture {
 protected:
  // A job on `data` with the sigmoid loss `loss` (a loss spec's text).
  static JobSpec Job(
      const std::string& data = "multi_label.pt",
      const std::string& loss = "focal { gamma: 2 } activation: ACTIVATION_SIGMOID") {
    return Spec("name: 'multi' model { mlp { hidden: [32] } } dataset { tensors { path: '" + data +
                "' } } loss { " + loss +
                " } optimizer { adam {} learning_rate: 0.01 } epochs: 6 batch_size: 64 seed: 5 "
                "log_every_steps: 10");
  }
};

TEST_F(MultiLabelTest, ASigmoidLossTrainsOnMultiLabelTargets) {
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(Job(), Options());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const std::string description = (*trainer)->Describe();
  EXPECT_NE(description.find("tensors: 1200 train, 0 validation, 400 test, 5 labels (multi-label)"),
            std::string::npos)
      << description;
  VectorSink sink;
  TrainerOptions options = Options();
  options.sink = &sink;
  ModelState from_float;
  absl::StatusOr<TrainingSummary> summary = Train(Job(), options, &from_float);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::map<std::string, double>& metrics = summary->final_metrics;
  // A sample carries 0 to 5 labels; each label is a linear rule of the features.
  EXPECT_GE(metrics.at("eval_accuracy"), 0.9);
  EXPECT_GE(metrics.at("eval_f1"), 0.9);
  EXPECT_GE(metrics.at("eval_exact_match"), 0.6);
  EXPECT_LE(metrics.at("eval_exact_match"), metrics.at("eval_accuracy"));
  // Every label has a target in every row: accuracy is the mean of the labels' accuracies.
  double label_mean = 0;
  for (int k = 0; k < 5; ++k) label_mean += metrics.at("eval_class_accuracy/" + std::to_string(k));
  EXPECT_NEAR(label_mean / 5, metrics.at("eval_accuracy"), 1e-12);
  EXPECT_EQ(metrics.count("eval_class_accuracy/5"), 0u);
  EXPECT_LT(metrics.at("eval_ece"), 0.2);  // focal loss keeps it underconfident
  EXPECT_GT(metrics.at("eval_nll"), 0.0);
  // Training accuracy is the labels' too: far above what a top-1 reading of 5 classes gives.
  ASSERT_FALSE(sink.points.empty());
  const auto& last = sink.points.back().kind() == polytrain::v1::MetricPoint::KIND_TRAIN
                         ? sink.points.back()
                         : sink.points[sink.points.size() - 2];
  EXPECT_GE(last.values().at("accuracy"), 0.85);
  // Boolean targets are the same targets.
  ModelState from_bool;
  ASSERT_TRUE(Train(Job("multi_label_bool.pt"), Options(), &from_bool).ok());
  testing_util::ExpectSameWeights(from_float, from_bool);
}

// A logging window's loss is the mean of its batches' means weighed by what each divided by:
// batches of ignored targets only (loss 0) do not pull it toward 0. With one row per batch and
// 4 rows of 64 labelled, the one-window run reports the mean of the labelled steps' losses.
TEST_F(MultiLabelTest, AWindowsLossLeavesOutBatchesOfIgnoredTargetsOnly) {
  const auto run = [this](int log_every) {
    JobSpec spec = Job("multi_label_sparse.pt",
                       "focal { gamma: 0.5 } activation: ACTIVATION_SIGMOID ignore_index: -1");
    spec.set_batch_size(1);
    spec.set_epochs(1);
    spec.set_log_every_steps(log_every);
    spec.mutable_optimizer()->clear_adam();
    spec.mutable_optimizer()->mutable_sgd();
    VectorSink sink;
    TrainerOptions options = Options();
    options.sink = &sink;
    EXPECT_TRUE(Train(spec, options).ok());
    std::vector<polytrain::v1::MetricPoint> train;
    for (const auto& point : sink.points) {
      if (point.kind() == polytrain::v1::MetricPoint::KIND_TRAIN) train.push_back(point);
    }
    return train;
  };
  const std::vector<polytrain::v1::MetricPoint> steps = run(1), window = run(64);
  ASSERT_EQ(steps.size(), 64u);
  ASSERT_EQ(window.size(), 1u);
  double labelled_sum = 0;
  int labelled = 0;
  for (const auto& step : steps) {
    if (step.values().count("accuracy") == 0) {  // every target ignored: nothing to score
      EXPECT_EQ(step.values().at("loss"), 0.0);
      continue;
    }
    labelled_sum += step.values().at("loss");
    ++labelled;
  }
  ASSERT_EQ(labelled, 4);
  EXPECT_NEAR(window[0].values().at("loss"), labelled_sum / labelled, 1e-6);
}

// Targets of -1 ("unknown") are ignored where the loss says so, and refused where it does not.
TEST_F(MultiLabelTest, UnknownTargetsNeedTheLossToIgnoreThem) {
  EXPECT_EQ(CreateError(Job("multi_label_unknown.pt")),
            "spec.dataset.tensors.path: train_y holds the target -1 (label 0); multi-label targets "
            "lie in [0, 1] (a value meaning \"unknown\" needs spec.loss.ignore_index)");
  const absl::StatusOr<TrainingSummary> ignoring =
      Train(Job("multi_label_unknown.pt",
                "focal { gamma: 2 } activation: ACTIVATION_SIGMOID "
                "ignore_index: -1"),
            Options());
  ASSERT_TRUE(ignoring.ok()) << ignoring.status();
  EXPECT_GE(ignoring->final_metrics.at("eval_accuracy"), 0.9);
}

TEST_F(MultiLabelTest, WrongMultiLabelJobsNameTheField) {
  const std::string f = "spec.dataset.tensors.path: ";
  EXPECT_EQ(CreateError(Job("multi_label.pt", "poly1 { epsilon: 1 }")),
            "spec.loss.activation: a softmax loss takes one class per sample, and the train_y of "
            "spec.dataset.tensors.path holds multi-label targets [1200, 5]: set activation: "
            "ACTIVATION_SIGMOID");
  EXPECT_EQ(CreateError(Job("multi_label_one_hot.pt", "poly1 { epsilon: 1 }")),
            "spec.loss.activation: a softmax loss takes one class per sample, and the train_y of "
            "spec.dataset.tensors.path holds multi-label targets [1200, 5]: set activation: "
            "ACTIVATION_SIGMOID; or, as its rows of one 1 each say one class per sample, save "
            "them as class indices: train_y.argmax(1)");
  EXPECT_EQ(CreateError(Job("multi_label_two.pt")),
            f + "train_y holds the target 2 (label 3); multi-label targets lie in [0, 1] (a value "
                "meaning \"unknown\" needs spec.loss.ignore_index)");
  EXPECT_EQ(CreateError(Job("multi_label_two.pt",
                            "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: -1")),
            f + "train_y holds the target 2 (label 3); multi-label targets lie in [0, 1] or equal "
                "spec.loss.ignore_index (-1)");
  // A validation split drawn from train_y is named train_y: the file has no val_y.
  JobSpec split = Job("multi_label_two.pt");
  split.mutable_dataset()->set_validation_fraction(0.5);
  EXPECT_EQ(CreateError(split).find(f + "train_y holds the target 2 (label 3)"), 0u)
      << CreateError(split);
  EXPECT_EQ(CreateError(Job("multi_label_float32_overflow.pt")),
            f + "train_y holds values beyond float32's range (3.40282e+38), the precision the "
                "worker trains in");
  EXPECT_EQ(CreateError(Job("multi_label_four_test_labels.pt")),
            f + "test_y is [400, 4] but train_y is [1200, 5]: every split has the same labels");
  EXPECT_EQ(CreateError(Job("multi_label_class_test.pt")),
            f + "test_y is [400] but train_y is [1200, 5]: class indices in one, multi-label rows "
                "in the other");
  EXPECT_EQ(CreateError(Job("multi_label_no_labels.pt")),
            f + "train_y is [1200, 0]; a row of 0 targets holds no label");
  EXPECT_EQ(CreateError(Job("multi_label_short.pt")),
            f + "train_y is [1199, 5]; expected a row of targets per sample: [1200, labels]");
  // 0 and 1 are targets, not "unknown".
  EXPECT_EQ(CreateError(Job("multi_label.pt",
                            "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: 1")),
            "spec.loss.ignore_index: is 1, a target of multi-label data: every present label "
            "would be ignored; mark unknown targets with another value, e.g. -1");
  EXPECT_EQ(CreateError(Job("multi_label.pt",
                            "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: 0"))
                .find("spec.loss.ignore_index: is 0, a target of multi-label data: every absent"),
            0u);
  EXPECT_EQ(CreateError(Job("multi_label_all_unknown.pt",
                            "cross_entropy {} activation: ACTIVATION_SIGMOID ignore_index: -1")),
            f + "every target of train_y equals spec.loss.ignore_index (-1): nothing to train on");
  // Class indices saved as a column are said to be.
  EXPECT_EQ(CreateError(Job("multi_label_column.pt", "poly1 { epsilon: 1 }")),
            "spec.loss.activation: a softmax loss takes one class per sample, and the train_y of "
            "spec.dataset.tensors.path holds multi-label targets [1200, 1]: set activation: "
            "ACTIVATION_SIGMOID (class indices? save train_y as [N], not [N, 1])");
  EXPECT_EQ(
      CreateError(Job("multi_label_column.pt"))
          .find(f + "train_y holds the target 2 (label 0); multi-label targets lie in [0, 1] (a "
                    "value meaning \"unknown\" needs spec.loss.ignore_index) (class indices? "),
      0u)
      << CreateError(Job("multi_label_column.pt"));
  // Train's error first, where every split has it.
  EXPECT_EQ(CreateError(Job("multi_label_three_dims.pt")),
            f + "train_y is Float [1200, 5, 1]; expected integer class indices [N] or multi-label "
                "targets [N, labels]");
  EXPECT_EQ(CreateError(Job("multi_label.pt",
                            "cross_entropy {} activation: ACTIVATION_SIGMOID "
                            "class_weights: [1, 2, 3, 4]")),
            "spec.loss.class_weights: has 4 entries but the dataset has 5 labels");
}

}  // namespace
}  // namespace polytrain
