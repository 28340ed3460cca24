#include "api/loss_search.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::LossSpec;
using polytrain::v1::SubmitSweepRequest;

SubmitSweepRequest Search(const std::string& text) {
  SubmitSweepRequest request;
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(
          R"(base {
           name: "base"
           model { mlp {} }
           dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
           optimizer { sgd {} learning_rate: 0.1 }
           epochs: 9
           batch_size: 2
         })" + text,
          &request))
      << text;
  return request;
}

constexpr char kHalving[] = R"(
  search {
    strategy: STRATEGY_SUCCESSIVE_HALVING
    loss { poly1 {} }
    ranges { field: "poly1.epsilon" min: -1 max: 10 }
    trials: 12
    draw_seed: 7
    min_resource: 1
  })";

std::string Error(const SubmitSweepRequest& request) {
  return std::string(ValidateSubmitSweepRequest(request).status().message());
}

TEST(LossSearchTest, SetsNumbersByPathAndLengthensLists) {
  LossSpec loss;
  loss.mutable_poly_n();
  ASSERT_TRUE(SetLossNumber("poly_n.epsilons[2]", 0.5, &loss).ok());
  ASSERT_EQ(loss.poly_n().epsilons_size(), 3);
  EXPECT_EQ(loss.poly_n().epsilons(0), 0.0);
  EXPECT_EQ(loss.poly_n().epsilons(2), 0.5);
  ASSERT_TRUE(SetLossNumber("label_smoothing", 0.1, &loss).ok());
  EXPECT_EQ(loss.label_smoothing(), 0.1);
  EXPECT_EQ(SetLossNumber("poly1.epsilon", 1, &loss).message(),
            "'poly1.epsilon' needs the search's loss to be poly1, and it is not");
  EXPECT_EQ(SetLossNumber("poly_n.epsilons", 1, &loss).message(),
            "'poly_n.epsilons': a list needs an index, e.g. [0]");
  EXPECT_EQ(SetLossNumber("poly_n.epsilon", 1, &loss).message(),
            "'poly_n.epsilon': PolyN has no field 'epsilon'");
  EXPECT_EQ(SetLossNumber("reduction", 1, &loss).message(),
            "'reduction': reduction is not a number a search can draw");
  EXPECT_EQ(SetLossNumber("poly_n.epsilons[10000]", 1, &loss).message(),
            "'poly_n.epsilons[10000]': index must be at most 9999");
  // However many digits (probe CA: past five it said PolyN has no such field).
  EXPECT_EQ(SetLossNumber("poly_n.epsilons[999999999999]", 1, &loss).message(),
            "'poly_n.epsilons[999999999999]': index must be at most 9999");
  EXPECT_TRUE(SetLossNumber("poly_n.epsilons[9999]", 1, &loss).ok());
  EXPECT_FALSE(SetLossNumber("poly_n.epsilons[-1]", 1, &loss).ok());
  EXPECT_FALSE(SetLossNumber("", 1, &loss).ok());
  EXPECT_FALSE(SetLossNumber("a.b.c", 1, &loss).ok());
  // One spelling per index: "[01]", "[+1]" or "[ 1]" would let two ranges draw one number.
  for (const char* odd :
       {"poly_n.epsilons[01]", "poly_n.epsilons[+1]", "poly_n.epsilons[ 1]", "poly_n.epsilons[]"}) {
    EXPECT_EQ(SetLossNumber(odd, 1, &loss).message(),
              absl::StrCat("'", odd,
                           "': an index is plain digits without a leading zero (e.g. [1]), "
                           "got '",
                           odd + 15, "'"))
        << odd;
  }
  EXPECT_TRUE(SetLossNumber("poly_n.epsilons[0]", 1, &loss).ok());
  // Lengthening only: the list holds the index, and a number already there stays.
  LossSpec lengthened;
  lengthened.mutable_poly_n()->add_epsilons(0.25);
  ASSERT_TRUE(LengthenLossList("poly_n.epsilons[2]", &lengthened).ok());
  EXPECT_EQ(lengthened.poly_n().epsilons_size(), 3);
  EXPECT_EQ(lengthened.poly_n().epsilons(0), 0.25);
  ASSERT_TRUE(LengthenLossList("poly_n.epsilons[0]", &lengthened).ok());
  EXPECT_EQ(lengthened.poly_n().epsilons(0), 0.25);
  ASSERT_TRUE(LengthenLossList("label_smoothing", &lengthened).ok());
  EXPECT_EQ(lengthened.label_smoothing(), 0.0);
  // Class weights are no coefficient of the family.
  EXPECT_EQ(SetLossNumber("class_weights[0]", 1, &loss).message(),
            "'class_weights[0]': class_weights is not a number a search can draw");
}

TEST(LossSearchTest, DrawsTheSameConfigurationsForTheSameSeedWithinTheRange) {
  const SubmitSweepRequest request = Search(kHalving);
  absl::StatusOr<SweepPlan> plan = ValidateSubmitSweepRequest(request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->request.losses_size(), 12);
  std::set<double> values;
  for (const LossSpec& loss : plan->request.losses()) {
    ASSERT_TRUE(loss.has_poly1());
    EXPECT_GE(loss.poly1().epsilon(), -1.0);
    EXPECT_LE(loss.poly1().epsilon(), 10.0);
    values.insert(loss.poly1().epsilon());
  }
  EXPECT_GT(values.size(), 8u);
  // Pinned: mt19937_64 and the 53-bit conversion are the same on every standard library (these
  // three were computed by an independent Python mt19937_64 with the same conversion).
  EXPECT_EQ(plan->request.losses(0).poly1().epsilon(), 7.298);
  EXPECT_EQ(plan->request.losses(1).poly1().epsilon(), 9.442);
  EXPECT_EQ(plan->request.losses(2).poly1().epsilon(), 0.2916);
  const absl::StatusOr<std::vector<LossSpec>> again = DrawLosses(request.search());
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ((*again)[i].poly1().epsilon(), plan->request.losses(i).poly1().epsilon());
  }
  SubmitSweepRequest other = request;
  other.mutable_search()->set_draw_seed(8);
  EXPECT_NE(DrawLosses(other.search())->at(0).poly1().epsilon(), (*again)[0].poly1().epsilon());
}

TEST(LossSearchTest, EveryTrialDrawsADifferentLoss) {
  // 500 draws of one number at 4 significant digits in [0, 1]: coincidences are likely (the
  // birthday bound), and each is drawn again.
  SubmitSweepRequest request = Search(R"(
    search {
      strategy: STRATEGY_RANDOM
      loss { poly1 {} }
      ranges { field: "poly1.epsilon" min: 0 max: 1 }
      trials: 500
    })");
  absl::StatusOr<SweepPlan> plan = ValidateSubmitSweepRequest(request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::set<double> values;
  for (const LossSpec& loss : plan->request.losses()) values.insert(loss.poly1().epsilon());
  EXPECT_EQ(values.size(), 500u);
  // A range of one value holds one configuration: one trial, not two.
  request.mutable_search()->mutable_ranges(0)->set_min(1);
  request.mutable_search()->set_trials(1);
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->set_trials(2);
  EXPECT_EQ(Error(request),
            "search.trials: trial 1 drew only configurations earlier trials have, 1000 times "
            "over: at 4 significant digits the ranges hold no more, or barely more, than 1 "
            "different ones; widen search.ranges or ask for fewer trials");
  // Nor a range narrower than the rounding (1, 1.0001, 1.0002 ... at 4 digits: 1 and 1.001).
  request.mutable_search()->mutable_ranges(0)->set_min(1);
  request.mutable_search()->mutable_ranges(0)->set_max(1.001);
  EXPECT_EQ(Error(request), "");
  request.mutable_search()->set_trials(3);
  EXPECT_EQ(Error(request).substr(0, 50), "search.trials: trial 2 drew only configurations ea");
}

TEST(LossSearchTest, LogScaleDrawsSpanDecades) {
  SubmitSweepRequest request = Search(R"(
    search {
      strategy: STRATEGY_RANDOM
      loss { focal {} }
      ranges { field: "focal.gamma" min: 0.01 max: 10 log_scale: true }
      trials: 400
    })");
  ASSERT_TRUE(ValidateSubmitSweepRequest(request).ok()) << Error(request);
  int below_one_tenth = 0;
  const absl::StatusOr<std::vector<LossSpec>> drawn = DrawLosses(request.search());
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  for (const LossSpec& loss : *drawn) {
    if (loss.focal().gamma() < 0.1) ++below_one_tenth;
  }
  // A third of the log range lies below 0.1 (uniform would put 0.9% there).
  EXPECT_GT(below_one_tenth, 90);
  EXPECT_LT(below_one_tenth, 180);
}

TEST(LossSearchTest, RangesAreCheckedAgainstTheLossFamily) {
  SubmitSweepRequest request = Search(kHalving);
  request.mutable_search()->mutable_ranges(0)->set_min(-2);
  EXPECT_EQ(Error(request),
            "search.ranges[0].min: poly1.epsilon = -2 is not a valid loss: "
            "loss.poly1.epsilon: must be >= -1, got -2");
  request.mutable_search()->mutable_ranges(0)->set_min(11);
  EXPECT_EQ(Error(request), "search.ranges[0].max: must be >= min (11), got 10");
  request.mutable_search()->mutable_ranges(0)->set_min(0);
  request.mutable_search()->mutable_ranges(0)->set_log_scale(true);
  EXPECT_EQ(Error(request), "search.ranges[0].min: must be > 0 with log_scale, got 0");
  request = Search(kHalving);
  request.mutable_search()->mutable_ranges(0)->set_field("focal.gamma");
  EXPECT_EQ(Error(request),
            "search.ranges[0].field: 'focal.gamma' needs the search's loss to be focal, and it "
            "is not");
  request = Search(kHalving);
  *request.mutable_search()->add_ranges() = request.search().ranges(0);
  EXPECT_EQ(Error(request), "search.ranges[1].field: 'poly1.epsilon' is drawn by an earlier range");
  // A range beyond a list's bound is named, not the loss it left without that entry.
  request = Search(kHalving);
  request.mutable_search()->mutable_loss()->mutable_poly_n();
  request.mutable_search()->mutable_ranges(0)->set_field("poly_n.epsilons[10001]");
  EXPECT_EQ(Error(request),
            "search.ranges[0].field: 'poly_n.epsilons[10001]': index must be at most 9999");
  request = Search(kHalving);
  request.mutable_search()->clear_ranges();
  request.add_losses()->mutable_cross_entropy();
  EXPECT_EQ(Error(request),
            "search.loss: successive halving draws from search.loss only with ranges: set "
            "search.ranges, or give the configurations as `losses`");
  request.clear_losses();  // with no `losses` either, the ranges are what is missing
  EXPECT_EQ(Error(request),
            "search.loss: successive halving draws from search.loss only with ranges: set "
            "search.ranges, or give the configurations as `losses`");
  request.add_losses()->mutable_cross_entropy();
  request.mutable_search()->clear_loss();
  EXPECT_EQ(Error(request),
            "search.trials: successive halving over `losses` takes them as its trials: set "
            "ranges to draw trials instead");
  // Without ranges the configurations are `losses`, counted before any bound that uses them.
  request.mutable_search()->set_trials(0);
  request.mutable_search()->set_top_k(1);
  request.clear_losses();
  EXPECT_EQ(Error(request), "losses: must have 1 to 100 entries, got 0");
  request = Search(kHalving);
  request.add_losses()->mutable_cross_entropy();
  EXPECT_EQ(Error(request), "losses: must be empty when the search draws its losses (ranges)");
  // A list the ranges lengthen is checked as drawn: poly_n {} with ranges of epsilons[0] and [1]
  // is a poly_n of two terms (its empty list alone would need at least 1 entry).
  request = Search(kHalving);
  request.mutable_search()->mutable_loss()->mutable_poly_n();
  request.mutable_search()->mutable_ranges(0)->set_field("poly_n.epsilons[0]");
  request.mutable_search()->mutable_ranges(0)->set_min(0);
  request.mutable_search()->mutable_ranges(0)->set_max(1);
  *request.mutable_search()->add_ranges() = request.search().ranges(0);
  request.mutable_search()->mutable_ranges(1)->set_field("poly_n.epsilons[1]");
  EXPECT_EQ(Error(request), "");
  // Seeds are those of the final re-runs: with top_k 0 there are none.
  request = Search(kHalving);
  request.set_seeds(3);
  EXPECT_EQ(Error(request),
            "seeds: successive halving reads it with search.top_k 1 or more only (the seeds of "
            "the final re-runs; top_k 0 re-runs nothing), got 3");
  request.mutable_search()->set_top_k(1);
  EXPECT_EQ(Error(request), "");
  // So does the baseline, run beside them.
  request = Search(kHalving);
  request.mutable_search()->mutable_baseline()->mutable_focal()->set_gamma(2);
  EXPECT_EQ(Error(request),
            "search.baseline: successive halving runs it with search.top_k 1 or more only (beside "
            "the final re-runs; top_k 0 re-runs nothing)");
  request.mutable_search()->set_top_k(1);
  EXPECT_EQ(Error(request), "");
  request = Search(kHalving);
  request.mutable_search()->set_trials(1001);
  EXPECT_EQ(Error(request), "search.trials: must be in [1, 1000], got 1001");
  request.mutable_search()->set_trials(1000);
  EXPECT_EQ(Error(request), "");
}

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
