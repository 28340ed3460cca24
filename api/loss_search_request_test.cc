// A search request as SubmitSweep checks it: its limits and budget, the fields a grid takes
// or not, its metric, its size, its seeds.
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "api/loss_search.h"
#include "api/loss_search_test_util.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using loss_search_test::Error;
using loss_search_test::kHalving;
using loss_search_test::Search;
using polytrain::v1::LossSpec;
using polytrain::v1::SubmitSweepRequest;

TEST(LossSearchTest, HalvingLimitsAndBudget) {
  SubmitSweepRequest request = Search(kHalving);
  request.mutable_search()->set_min_resource(10);
  EXPECT_EQ(Error(request), "search.min_resource: must be in [1, 9], got 10");
  request.mutable_search()->set_min_resource(9);
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->set_reduction_factor(1);
  EXPECT_EQ(Error(request), "search.reduction_factor: must be in [2, 16], got 1");
  request.mutable_search()->set_reduction_factor(17);
  EXPECT_EQ(Error(request), "search.reduction_factor: must be in [2, 16], got 17");
  request.mutable_search()->set_reduction_factor(16);
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->set_top_k(13);
  EXPECT_EQ(Error(request), "search.top_k: must be at most the 12 configurations, got 13");
  request.mutable_search()->set_top_k(12);
  request.set_seeds(100);
  // 12 trials + 12 x 100 re-runs + 100 baseline runs.
  EXPECT_EQ(Error(request),
            "search.top_k: trials + top_k x seeds + seeds (the baseline) must be at most 1000, "
            "got 1312");
  request.set_seeds(70);  // 12 + 12 x 70 + 70 = 922
  EXPECT_EQ(Error(request), "");
  request = Search(kHalving);
  request.mutable_base()->set_max_steps(100);
  EXPECT_EQ(Error(request),
            "base.max_steps: must be 0 with RESOURCE_EPOCHS (the budget is epochs); use "
            "RESOURCE_STEPS to count in steps");
  request.mutable_search()->set_unit(polytrain::v1::LossSearch::RESOURCE_STEPS);
  EXPECT_EQ(Error(request), "base.epochs: must be 0 with RESOURCE_STEPS (the budget is max_steps)");
  request.mutable_base()->set_epochs(0);
  EXPECT_EQ(Error(request), "");
  EXPECT_EQ(RungResources(request), (std::vector<int64_t>{1, 3, 9, 27, 81, 100}));
  request.mutable_search()->set_min_resource(100);
  EXPECT_EQ(RungResources(request), (std::vector<int64_t>{100}));
  request = Search(kHalving);
  request.mutable_search()->set_strategy(static_cast<polytrain::v1::LossSearch::Strategy>(9));
  EXPECT_EQ(Error(request), "search.strategy: unknown strategy 9");
}

TEST(LossSearchTest, AGridTakesNoSearchFields) {
  SubmitSweepRequest request = Search("losses { cross_entropy {} } search { top_k: 1 }");
  EXPECT_EQ(Error(request),
            "search.top_k: needs search.strategy SUCCESSIVE_HALVING (a grid runs `losses` as "
            "given)");
  request.mutable_search()->set_top_k(0);
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->mutable_baseline()->mutable_cross_entropy();
  EXPECT_EQ(Error(request),
            "search.baseline: needs search.strategy SUCCESSIVE_HALVING (a grid runs `losses` as "
            "given)");
  request.mutable_search()->clear_baseline();
  request.mutable_search()->set_draw_seed(3);
  EXPECT_EQ(Error(request),
            "search.draw_seed: needs search.strategy RANDOM or SUCCESSIVE_HALVING (a grid runs "
            "`losses` as given)");
  request.mutable_search()->set_draw_seed(0);
  request.mutable_search()->add_ranges()->set_field("poly1.epsilon");
  EXPECT_EQ(Error(request).substr(0, 34), "search.ranges: needs search.strate");
  request.mutable_search()->clear_ranges();
  request.mutable_search()->set_metric(std::string(129, 'm'));
  EXPECT_EQ(Error(request), "search.metric: length must be in [0, 128] characters, got 129");
  request.mutable_search()->set_metric(std::string(128, 'm'));
  EXPECT_NE(Error(request), "");
  request.mutable_search()->set_metric("eval_ece");
  EXPECT_EQ(Error(request), "");
}

TEST(LossSearchTest, TheMetricIsOneAnEvaluationReports) {
  SubmitSweepRequest request = Search(kHalving);
  request.mutable_base()->mutable_dataset()->mutable_synthetic()->set_classes(100);
  for (const char* good : {"eval_accuracy", "eval_nll", "eval_ece", "eval_class_accuracy/3"}) {
    request.mutable_search()->set_metric(good);
    EXPECT_EQ(Error(request), "") << good;
  }
  // Each trial's own loss is on its loss's scale: a larger focal gamma would rank first.
  request.mutable_search()->set_metric("eval_loss");
  EXPECT_EQ(Error(request),
            "search.metric: 'eval_loss' is each trial's own loss, whose scale differs between "
            "losses; rank by eval_nll (the negative log-likelihood of the true class, the same "
            "measure for every loss) or by an accuracy");
  EXPECT_TRUE(LowerIsBetter("eval_nll"));
  // Exactly one prefix, and a class index after class_accuracy/.
  for (const char* bad : {"eval_val_accuracy", "eval_eval_loss", "eval_class_accuracy/",
                          "eval_class_accuracy/abc", "eval_class_accuracy/-1"}) {
    request.mutable_search()->set_metric(bad);
    EXPECT_EQ(Error(request).substr(0, 15), "search.metric: ") << bad;
  }
  // Class indices as evaluations write them, and only where they are reported.
  request.mutable_search()->set_metric("eval_class_accuracy/99");
  EXPECT_EQ(Error(request), "");
  for (const char* never : {"eval_class_accuracy/100", "eval_class_accuracy/07"}) {
    request.mutable_search()->set_metric(never);
    EXPECT_EQ(Error(request), absl::StrCat("search.metric: '", never,
                                           "' is never reported: per-class accuracies are named "
                                           "class_accuracy/0 to class_accuracy/99 (tasks of at "
                                           "most 100 classes)"));
  }
  // Where the dataset's classes are known at submit, a class it does not have: every trial would
  // end its rung without a value.
  request.mutable_base()->mutable_dataset()->mutable_synthetic()->set_classes(5);
  request.mutable_search()->set_metric("eval_class_accuracy/4");
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->set_metric("eval_class_accuracy/5");
  EXPECT_EQ(Error(request),
            "search.metric: 'eval_class_accuracy/5' is never reported: base.dataset has 5 classes "
            "(class_accuracy/0 to class_accuracy/4)");
  request.mutable_base()->mutable_dataset()->mutable_synthetic()->set_classes(101);
  request.mutable_search()->set_metric("eval_class_accuracy/3");
  EXPECT_EQ(Error(request),
            "search.metric: 'eval_class_accuracy/3' is never reported: base.dataset has 101 "
            "classes (per-class accuracies are reported for tasks of at most 100)");
  const polytrain::v1::DatasetSpec synthetic = request.base().dataset();
  request.mutable_base()->mutable_dataset()->mutable_fashion_mnist();
  request.mutable_search()->set_metric("eval_class_accuracy/10");
  EXPECT_EQ(Error(request).substr(0, 74),
            "search.metric: 'eval_class_accuracy/10' is never reported: base.dataset ha");
  *request.mutable_base()->mutable_dataset() = synthetic;
  request.mutable_base()->mutable_dataset()->mutable_synthetic()->set_classes(2);
  request.mutable_search()->set_metric("eval_acc");
  EXPECT_EQ(Error(request),
            "search.metric: 'eval_acc' is no metric an evaluation reports (e.g. eval_accuracy, "
            "eval_nll, eval_ece, val_accuracy; multi-label data also eval_exact_match, eval_f1)");
  // Multi-label scores, which only a tensor file's targets can have.
  for (const char* multi_label : {"eval_exact_match", "val_f1"}) {
    request.mutable_search()->set_metric(multi_label);
    EXPECT_EQ(Error(request), absl::StrCat("search.metric: '", multi_label,
                                           "' is reported for multi-label data (a tensor file's "
                                           "[N, C] train_y); base.dataset has one class per "
                                           "sample"));
  }
  request.mutable_base()->mutable_dataset()->mutable_tensors()->set_path("multi_label.pt");
  request.mutable_search()->set_metric("eval_f1");
  EXPECT_EQ(Error(request), "");
  EXPECT_FALSE(LowerIsBetter("eval_f1"));
  *request.mutable_base()->mutable_dataset() = synthetic;
  request.mutable_base()->mutable_dataset()->mutable_synthetic()->set_classes(2);
  request.mutable_search()->set_metric("accuracy");
  EXPECT_NE(Error(request), "");
  request.mutable_search()->set_metric("val_accuracy");
  EXPECT_EQ(Error(request),
            "search.metric: 'val_accuracy' needs a validation split: set "
            "base.dataset.validation_fraction");
  request.mutable_base()->mutable_dataset()->set_validation_fraction(0.25);
  EXPECT_EQ(Error(request), "");
}

TEST(LossSearchTest, ARandomSearchIsBoundedByTrialsTimesSeeds) {
  SubmitSweepRequest request = Search(R"(
    seeds: 2
    search {
      strategy: STRATEGY_RANDOM
      loss { poly1 {} }
      ranges { field: "poly1.epsilon" min: 0 max: 1 }
      trials: 501
    })");
  EXPECT_EQ(Error(request), "search.trials: trials x seeds must be at most 1000, got 1002");
  request.mutable_search()->set_trials(500);
  EXPECT_EQ(Error(request), "");
  const std::string halving_only =
      ": needs search.strategy SUCCESSIVE_HALVING (a random search trains every trial to the end)";
  request.mutable_search()->set_top_k(1);
  EXPECT_EQ(Error(request), "search.top_k" + halving_only);
  request.mutable_search()->set_top_k(0);
  request.mutable_search()->set_unit(static_cast<polytrain::v1::LossSearch::ResourceUnit>(7));
  EXPECT_EQ(Error(request), "search.unit" + halving_only);
  request.mutable_search()->set_unit(polytrain::v1::LossSearch::RESOURCE_UNSPECIFIED);
  request.mutable_search()->mutable_baseline()->mutable_focal()->set_gamma(2);
  EXPECT_EQ(Error(request), "search.baseline" + halving_only);
  request.mutable_search()->clear_baseline();
  // Without ranges it has nothing to draw, given losses or not.
  request.mutable_search()->clear_ranges();
  const std::string no_ranges =
      "search.ranges: a random search draws its losses from ranges of search.loss: set at least "
      "one (a grid runs `losses` as given)";
  EXPECT_EQ(Error(request), no_ranges);
  request.add_losses()->mutable_cross_entropy();
  EXPECT_EQ(Error(request), no_ranges);
}

TEST(LossSearchTest, AnUnknownStrategyIsNamedBeforeTheLossesItWouldNeed) {
  SubmitSweepRequest request = Search("search { strategy: STRATEGY_GRID }");
  EXPECT_EQ(Error(request).substr(0, 7), "losses:");
  request.mutable_search()->set_strategy(static_cast<polytrain::v1::LossSearch::Strategy>(7));
  EXPECT_EQ(Error(request), "search.strategy: unknown strategy 7");
}

TEST(LossSearchTest, ASweepWhoseJobsWouldNotFitOneAnswerIsRefused) {
  SubmitSweepRequest request = Search(R"(
    search {
      strategy: STRATEGY_RANDOM
      loss { cross_entropy {} }
      ranges { field: "label_smoothing" min: 0 max: 0.5 }
      trials: 1000
    })");
  // 20000 class weights (160 kB) in each of 1000 drawn losses: 160 MB of jobs (on a file's
  // dataset, whose classes the worker counts).
  request.mutable_base()->mutable_dataset()->mutable_tensors()->set_path("data.pt");
  for (int i = 0; i < 20000; ++i) request.mutable_search()->mutable_loss()->add_class_weights(1);
  EXPECT_EQ(Error(request),
            "search.loss: the sweep's 1000 jobs would take about 160567000 bytes (each carries "
            "the base and its loss), over the 8388608 bytes (8 MiB) an answer holds: make the "
            "loss smaller or run fewer jobs");
  request.mutable_search()->set_trials(40);  // 6.4 MB
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->mutable_loss()->clear_class_weights();
  request.mutable_search()->set_trials(1000);
  EXPECT_EQ(Error(request), "");
}

TEST(LossSearchTest, AGridGivesEachLossOnce) {
  SubmitSweepRequest request = Search(R"(
    losses { poly_n { epsilons: [1, 2] } }
    losses { poly_n { epsilons: [3, 4] } }
    losses { poly1 { epsilon: 0 } })");
  EXPECT_EQ(Error(request), "");                  // three different losses, three names
  request.add_losses()->mutable_cross_entropy();  // poly1 at epsilon 0 is cross-entropy
  EXPECT_EQ(Error(request), "losses[3]: the same loss as losses[2] (ce); give each loss once");
}

TEST(LossSearchTest, SeedsMayNotWrapPastTwoToTheSixtyFour) {
  SubmitSweepRequest request = Search("seeds: 2 losses { cross_entropy {} }");
  request.mutable_base()->set_seed(18446744073709551615ULL);  // its + 1 wraps
  EXPECT_EQ(Error(request),
            "base.seed: must leave room for 2 seeds below 2^64 (the sweep's jobs take "
            "base.seed, base.seed + 1, ...), got 18446744073709551615");
  request.mutable_base()->set_seed(18446744073709551614ULL);  // seeds ...614 and ...615
  EXPECT_EQ(Error(request), "");
}

}  // namespace
}  // namespace polytrain
