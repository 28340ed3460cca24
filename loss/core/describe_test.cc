#include "loss/core/describe.h"

#include <limits>

#include "gtest/gtest.h"

namespace polytrain::loss {
namespace {

LossConfig Config(std::vector<double> extra, double gamma = 0.0, bool tail = true) {
  LossConfig c;
  c.series.extra = std::move(extra);
  c.series.gamma = gamma;
  c.series.ce_tail = tail;
  return c;
}

TEST(DescribeTest, FamilyNamesComeFromTheCanonicalForm) {
  EXPECT_EQ(FamilyName(Config({}).series), "cross-entropy");
  EXPECT_EQ(FamilyName(Config({}, 2).series), "focal");
  EXPECT_EQ(FamilyName(Config({2}).series), "Poly-1");
  EXPECT_EQ(FamilyName(Config({2}, 2).series), "Poly-1 focal");
  EXPECT_EQ(FamilyName(Config({2, 1}).series), "Poly-N");
  EXPECT_EQ(FamilyName(Config({2, 1}, 0.5).series), "Poly-N focal");
  EXPECT_EQ(FamilyName(Config({1, 0.5, 1.0 / 3}, 0, false).series), "drop");
  EXPECT_EQ(FamilyName(Config({1, 0.5, 0.3}, 0, false).series), "explicit coefficients");
}

TEST(DescribeTest, ShortNamesStayShortForLongSeries) {
  EXPECT_EQ(ShortName(Config({})), "ce");
  EXPECT_EQ(ShortName(Config({2})), "poly1(e=2)");
  EXPECT_EQ(ShortName(Config({}, 2)), "focal(g=2)");
  LossConfig sig = Config({1}, 2);
  sig.activation = Activation::kSigmoid;
  sig.label_smoothing = 0.1;
  EXPECT_EQ(ShortName(sig), "sigmoid_poly1_focal(g=2,e=1),ls=0.1");
  std::vector<double> drop;
  for (int j = 1; j <= 1000; ++j) drop.push_back(1.0 / j);
  EXPECT_EQ(ShortName(Config(drop, 0, false)), "drop(n=1000)");
  const std::string long_series = ShortName(Config(std::vector<double>(1000, 0.1)));
  EXPECT_EQ(long_series.substr(0, 15), "poly_n(N=1000)#");
  EXPECT_EQ(long_series.size(), 27u);
  // The longest options at full width stay within the bound, cut and told apart by the digest.
  LossConfig wide = Config({1.0 / 3, -1.0 / 3, 1.0 / 7}, 1.0 / 3);
  wide.activation = Activation::kSigmoid;
  wide.label_smoothing = 1.0 / 3;
  wide.alpha = 1.0 / 3;
  wide.alpha_on_ce_only = true;
  wide.reduction = Reduction::kSum;
  wide.ignore_index = std::numeric_limits<int64_t>::min();
  LossConfig other = wide;
  other.ignore_index = std::numeric_limits<int64_t>::min() + 1;
  EXPECT_EQ(ShortName(wide).size(), kMaxShortNameLength);
  EXPECT_NE(ShortName(wide), ShortName(other));
  // -0 is 0: a digest of its bits named one loss twice (found by the loss-spec fuzzer).
  const std::vector<double> four = {1e-307, 3e-312, 1e-307, 3e-306};
  EXPECT_EQ(ShortName(Config(four, -0.0, false)), ShortName(Config(four, 0.0, false)));
  EXPECT_EQ(ShortName(Config({0.1, -0.0, 0.2, 0.3})), ShortName(Config({0.1, 0.0, 0.2, 0.3})));
}

// Sweeps and comparisons group runs by short name: losses that differ must not share one.
TEST(DescribeTest, DifferentLossesGetDifferentShortNames) {
  EXPECT_EQ(ShortName(Config({1, 2})), "poly_n(e=1,2)");
  EXPECT_EQ(ShortName(Config({3, 4}, 0.5)), "poly_focal(g=0.5,e=3,4)");
  EXPECT_EQ(ShortName(Config({1, 0.5, 0.25}, 0, false)), "coef(a=1,0.5,0.25,g=0)");
  std::vector<double> a(5, 0.1), b(5, 0.1);
  b[4] = 0.2;  // differs past the listed terms: told apart by the digest
  EXPECT_NE(ShortName(Config(a)), ShortName(Config(b)));
  EXPECT_EQ(ShortName(Config(a)), ShortName(Config(a)));  // and stable
  // A difference %g's six digits would round away.
  EXPECT_NE(ShortName(Config({1.0000001})), ShortName(Config({1.0000002})));
  // A fraction is never shown as the whole number six digits would round it to.
  EXPECT_EQ(ShortName(Config({1.0000001})), "poly1(e=1.0000001)");
  EXPECT_EQ(ShortName(Config({1.00000012345678})).substr(0, 19), "poly1(e=1.0000001)#");
  LossConfig smoothed = Config({});
  smoothed.label_smoothing = 0.9999999;
  EXPECT_EQ(ShortName(smoothed), "ce,ls=0.9999999");
  EXPECT_NE(Describe(smoothed, 0).find("smoothing:   0.9999999\n"), std::string::npos);
  EXPECT_NE(Describe(Config({1e-7})).find("alpha_1     = 1.0000001\n"), std::string::npos)
      << Describe(Config({1e-7}));
  smoothed.label_smoothing = 0.123456789;  // rounded to a fraction: six digits and the digest
  EXPECT_EQ(ShortName(smoothed).substr(0, 15), "ce,ls=0.123457#");
  LossConfig weighted = Config({2}), reweighted = Config({2});
  weighted.class_weights = {1, 2};
  reweighted.class_weights = {2, 1};
  EXPECT_NE(ShortName(weighted), ShortName(reweighted));
  EXPECT_NE(ShortName(weighted), ShortName(Config({2})));
  LossConfig summed = Config({2});
  summed.reduction = Reduction::kSum;
  EXPECT_EQ(ShortName(summed), "poly1(e=2),sum");
  summed.ignore_index = -100;
  EXPECT_EQ(ShortName(summed), "poly1(e=2),sum,ig=-100");
}

TEST(DescribeTest, DescriptionListsCoefficientsAndOptions) {
  LossConfig c = Config({2});
  c.ignore_index = -100;
  const std::string text = Describe(c);
  EXPECT_NE(text.find("Poly-1"), std::string::npos);
  EXPECT_NE(text.find("L(pt) = -log(pt) + 2*(1-pt)"), std::string::npos) << text;
  EXPECT_NE(text.find("alpha_1     = 3"), std::string::npos) << text;
  EXPECT_NE(text.find("alpha_2     = 0.5"), std::string::npos) << text;
  EXPECT_NE(text.find("targets == -100"), std::string::npos) << text;
  const std::string long_text = Describe(Config(std::vector<double>(50, 0.1)), 10);
  EXPECT_NE(long_text.find("... (40 more)"), std::string::npos) << long_text;
}

}  // namespace
}  // namespace polytrain::loss
