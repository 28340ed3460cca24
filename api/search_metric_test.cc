// What a job keeps its best checkpoint by (spec.checkpoint.keep_best_by): the metrics a search
// may rank by and the job's own loss, refused naming the field when no evaluation reports it;
// and which way each metric is better.
#include "api/search_metric.h"

#include <cmath>
#include <string>

#include "api/job_spec.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

// The message of ValidateJobSpec for a valid spec with `keep_best_by` and `dataset` ("" when
// it passes).
std::string Refusal(const std::string& keep_best_by,
                    const std::string& dataset =
                        "synthetic { classes: 3 features: 4 train_samples: 10 test_samples: 10 }") {
  polytrain::v1::JobSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "name: \"best\" model { mlp {} } loss { cross_entropy {} } optimizer { sgd {} learning_rate: "
      "0.1 } "
      "epochs: 1 batch_size: 2 dataset { " +
          dataset + " }",
      &spec));
  spec.mutable_checkpoint()->set_keep_best_by(keep_best_by);
  return std::string(ValidateJobSpec(spec).message());
}

TEST(KeepBestByTest, AnyMetricAnEvaluationReportsIncludingTheJobsOwnLoss) {
  for (const char* metric :
       {"", "eval_accuracy", "eval_loss", "eval_nll", "eval_ece", "eval_class_accuracy/2"}) {
    EXPECT_EQ(Refusal(metric), "") << metric;
  }
  EXPECT_EQ(Refusal("val_loss", "fashion_mnist {} validation_fraction: 0.1"), "");
}

TEST(KeepBestByTest, AMetricNoEvaluationReportsIsRefusedByName) {
  EXPECT_EQ(Refusal("accuracy"),
            "spec.checkpoint.keep_best_by: 'accuracy' is no metric an evaluation reports (e.g. "
            "eval_accuracy, eval_nll, eval_ece, val_accuracy; multi-label data also "
            "eval_exact_match, eval_f1)");
  EXPECT_EQ(Refusal("val_accuracy"),
            "spec.checkpoint.keep_best_by: 'val_accuracy' needs a validation split: set "
            "spec.dataset.validation_fraction");
  EXPECT_EQ(Refusal("eval_class_accuracy/3"),
            "spec.checkpoint.keep_best_by: 'eval_class_accuracy/3' is never reported: "
            "spec.dataset has 3 classes (class_accuracy/0 to class_accuracy/2)");
  EXPECT_EQ(Refusal("eval_f1"),
            "spec.checkpoint.keep_best_by: 'eval_f1' is reported for multi-label data (a tensor "
            "file's [N, C] train_y); spec.dataset has one class per sample");
  // 128 characters pass the length check (and are no metric); 129 do not.
  EXPECT_EQ(Refusal("eval_" + std::string(123, 'a')).find("length"), std::string::npos);
  EXPECT_EQ(Refusal("eval_" + std::string(124, 'a')),
            "spec.checkpoint.keep_best_by: length must be in [0, 128] characters, got 129");
}

TEST(KeepBestByTest, LowerIsBetterForLossesNllAndCalibrationErrorOnly) {
  for (const char* metric : {"eval_loss", "val_loss", "eval_nll", "val_ece"}) {
    EXPECT_TRUE(LowerIsBetter(metric)) << metric;
  }
  for (const char* metric :
       {"eval_accuracy", "val_f1", "eval_exact_match", "eval_class_accuracy/1"}) {
    EXPECT_FALSE(LowerIsBetter(metric)) << metric;
  }
  EXPECT_TRUE(RanksBefore(0.1, 0.2, /*lower_is_better=*/true));
  EXPECT_FALSE(RanksBefore(0.2, 0.2, /*lower_is_better=*/false));  // equal: the earlier stays
  EXPECT_TRUE(RanksBefore(0.0, std::nan(""), /*lower_is_better=*/false));
}

}  // namespace
}  // namespace polytrain
