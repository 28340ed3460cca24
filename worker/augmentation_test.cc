#include "worker/augmentation.h"

#include <set>
#include <utility>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

polytrain::v1::Augmentation Augment(int padding, bool flip) {
  polytrain::v1::Augmentation augment;
  augment.set_random_crop_padding(padding);
  augment.set_horizontal_flip(flip);
  return augment;
}

// Distinct pixels, so that a window identifies its offset.
torch::Tensor Images(int64_t batch, int64_t channels, int64_t h, int64_t w) {
  return torch::arange(batch * channels * h * w, torch::kFloat).view({batch, channels, h, w}) + 1;
}

TEST(AugmentationTest, EachSampleIsAWindowOfItsPaddedSelfAtSomeOffset) {
  const int64_t p = 2;
  const torch::Tensor x = Images(64, 3, 6, 5);
  const torch::Tensor out = AugmentBatch(x, Augment(p, false), /*seed=*/7, /*step=*/3);
  ASSERT_EQ(out.sizes(), x.sizes());
  const torch::Tensor padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t b = 0; b < 64; ++b) {
    int matches = 0;
    for (int64_t dy = 0; dy <= 2 * p; ++dy) {
      for (int64_t dx = 0; dx <= 2 * p; ++dx) {
        const torch::Tensor window = padded[b].narrow(1, dy, 6).narrow(2, dx, 5);
        if (torch::equal(window, out[b])) {
          ++matches;
          offsets.insert({dy, dx});
        }
      }
    }
    EXPECT_EQ(matches, 1) << "sample " << b;
  }
  // 64 draws from 25 offsets: far more than a handful of them seen.
  EXPECT_GT(offsets.size(), 15u);
}

TEST(AugmentationTest, FlipsMirrorAboutHalfTheSamples) {
  const torch::Tensor x = Images(200, 1, 4, 4);
  const torch::Tensor out = AugmentBatch(x, Augment(0, true), 1, 0);
  int flipped = 0;
  for (int64_t b = 0; b < 200; ++b) {
    const bool same = torch::equal(out[b], x[b]);
    const bool mirrored = torch::equal(out[b], x[b].flip({2}));
    EXPECT_TRUE(same != mirrored) << "sample " << b;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 70);  // binomial(200, 1/2): 70..130 holds with probability > 0.9999
  EXPECT_LT(flipped, 130);
}

TEST(AugmentationTest, DrawsDependOnTheSeedAndStepOnly) {
  const torch::Tensor x = Images(32, 2, 8, 8);
  const auto augment = Augment(3, true);
  EXPECT_TRUE(torch::equal(AugmentBatch(x, augment, 5, 10), AugmentBatch(x, augment, 5, 10)));
  EXPECT_FALSE(torch::equal(AugmentBatch(x, augment, 5, 10), AugmentBatch(x, augment, 5, 11)));
  EXPECT_FALSE(torch::equal(AugmentBatch(x, augment, 5, 10), AugmentBatch(x, augment, 6, 10)));
  // [B, H, W] samples (no channel dimension) too.
  const torch::Tensor plain = Images(4, 1, 8, 8).squeeze(1);
  EXPECT_EQ(AugmentBatch(plain, augment, 5, 10).sizes(), plain.sizes());
}

TEST(AugmentationTest, AReplicasRowsAreAugmentedAsInTheWholeBatch) {
  const torch::Tensor x = Images(12, 2, 6, 6);
  const auto augment = Augment(2, true);
  const torch::Tensor whole = AugmentBatch(x, augment, 9, 4);
  for (int64_t first : {0, 4, 8}) {
    const torch::Tensor part = AugmentBatch(x.narrow(0, first, 4), augment, 9, 4, first, 12);
    EXPECT_TRUE(torch::equal(part, whole.narrow(0, first, 4))) << "rows from " << first;
  }
  // Without the offset the draws would be those of rows 0..3, not of this slice.
  EXPECT_FALSE(torch::equal(AugmentBatch(x.narrow(0, 8, 4), augment, 9, 4), whole.narrow(0, 8, 4)));
}

TEST(AugmentationTest, NormalizationIsPerChannel) {
  torch::Tensor x = Images(2, 3, 2, 2);
  const torch::Tensor original = x.clone();
  polytrain::v1::Normalization normalize;
  for (double m : {1.0, 2.0, 3.0}) normalize.add_mean(m);
  for (double s : {0.5, 2.0, 4.0}) normalize.add_std(s);
  ASSERT_TRUE(Normalize(normalize, {3, 2, 2}, "spec.dataset.normalize", {&x}).ok());
  for (int c = 0; c < 3; ++c) {
    EXPECT_TRUE(torch::allclose(x.select(1, c),
                                (original.select(1, c) - normalize.mean(c)) / normalize.std(c)));
  }
  const absl::Status wrong = Normalize(normalize, {1, 2, 2}, "spec.dataset.normalize", {&x});
  EXPECT_EQ(wrong.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.message(),
            "spec.dataset.normalize.mean: has 3 values, but samples [1, 2, 2] have 1 channel(s): "
            "give one per channel, or one");
  // A std so small that float32 overflows: refused naming it, not trained into a divergence.
  torch::Tensor large = torch::full({2, 4}, 1e9);
  polytrain::v1::Normalization tiny;
  tiny.add_mean(0);
  tiny.add_std(1e-30);
  EXPECT_EQ(Normalize(tiny, {4}, "spec.dataset.normalize", {&large}).message(),
            "spec.dataset.normalize.std: normalizing makes some values infinite: the std is too "
            "small for these samples");
}

TEST(AugmentationTest, OnlyImagesAreAugmented) {
  EXPECT_TRUE(CheckAugmentation(Augment(4, true), {3, 32, 32}, "f").ok());
  EXPECT_TRUE(CheckAugmentation(Augment(4, false), {28, 28}, "f").ok());
  EXPECT_TRUE(CheckAugmentation(Augment(0, false), {20}, "f").ok());  // nothing asked
  EXPECT_EQ(CheckAugmentation(Augment(0, true), {20}, "spec.dataset.augment").message(),
            "spec.dataset.augment: needs image samples ([H, W] or [C, H, W]); these are [20]");
}

}  // namespace
}  // namespace polytrain
