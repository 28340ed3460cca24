// A search's losses: fields set by path, the same draws for the same seed within the ranges,
// a different loss for every trial, log-scale draws, ranges checked against the loss family.
#include "api/loss_search.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/client_requests.h"
#include "api/loss_search_test_util.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using loss_search_test::Error;
using loss_search_test::kHalving;
using loss_search_test::Search;
using polytrain::v1::LossSpec;
using polytrain::v1::SubmitSweepRequest;

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

}  // namespace
}  // namespace polytrain
