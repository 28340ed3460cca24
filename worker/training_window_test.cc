// A training window's accuracy counts: a softmax loss's ignored rows have no target, so they
// are neither right nor wrong; and its loss, a mean of its batches' means by their denominators.
#include "worker/training_window.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(TrainingWindowTest, AccuracyScoresOnlyTheRowsTheLossDoesNotIgnore) {
  // Predictions 0, 1, 0, 0 for labels 0, 1, 1, 2: two right; the last row's label is ignored.
  const torch::Tensor logits = torch::tensor(
      {{9.0F, 0.0F, 0.0F}, {0.0F, 9.0F, 0.0F}, {9.0F, 0.0F, 0.0F}, {9.0F, 0.0F, 0.0F}});
  const torch::Tensor labels = torch::tensor({0, 1, 1, 2}, torch::kLong);
  const torch::Tensor loss = torch::tensor(0.5);
  const auto now = TrainingWindow::Clock::now();

  TrainingWindow ignoring(torch::kCPU, /*timed_per_step=*/true, nullptr, int64_t{2});
  ignoring.AddStep(loss, true, {}, logits, labels, 4, 4, now);
  ignoring.AddStep(loss, true, {}, logits, labels, 4, 4, now);
  const WindowTotals ignored = ignoring.Close();
  EXPECT_EQ(ignored.correct, 4);
  EXPECT_EQ(ignored.scored, 6);
  EXPECT_EQ(ignored.samples, 8);  // the loss's rows, ignored ones included

  TrainingWindow scoring_all(torch::kCPU, /*timed_per_step=*/true, nullptr);
  scoring_all.AddStep(loss, true, {}, logits, labels, 4, 4, now);
  const WindowTotals all = scoring_all.Close();
  EXPECT_EQ(all.correct, 2);
  EXPECT_EQ(all.scored, 4);

  // A rank without rows this step scores none; a restarted window starts from zero.
  scoring_all.Restart();
  scoring_all.AddStep(loss, true, {}, torch::Tensor(), torch::Tensor(), 4, 0, now);
  EXPECT_EQ(scoring_all.Close().scored, 0);
}

// Multi-label targets are scored element by element; an element equal to the ignored target
// (a sigmoid loss's ignore_index) is not scored.
TEST(TrainingWindowTest, MultiLabelAccuracyScoresEachLabelDecision) {
  const torch::Tensor logits =
      torch::tensor({{2.0F, -1.0F, 0.5F}, {-3.0F, 4.0F, 1.0F}, {1.0F, -1.0F, -2.0F}});
  const torch::Tensor targets =
      torch::tensor({{1.0F, 0.0F, 0.0F}, {0.0F, 1.0F, 1.0F}, {0.0F, -1.0F, 0.0F}});
  TrainingWindow window(torch::kCPU, /*timed_per_step=*/true, nullptr, int64_t{-1});
  window.AddStep(torch::tensor(0.5), true, {}, logits, targets, 3, 3, TrainingWindow::Clock::now());
  const WindowTotals totals = window.Close();
  EXPECT_EQ(totals.correct, 6);
  EXPECT_EQ(totals.scored, 8);
  EXPECT_EQ(totals.samples, 3);
}

// Batches' means weigh by what they divided by: a batch of ignored rows only (loss 0, no
// denominator) does not pull the window's loss toward 0; a sum counts per row.
TEST(TrainingWindowTest, ALossMeanWeighsEachBatchByItsDenominator) {
  const auto now = TrainingWindow::Clock::now();
  // On the device (one worker's), and on the host (a gang's): the same weighing.
  const auto denominator = [](double d) {
    return MeanDenominator{torch::scalar_tensor(d, torch::kDouble), std::nullopt};
  };
  const auto host_denominator = [](double d) { return MeanDenominator{torch::Tensor(), d}; };
  TrainingWindow window(torch::kCPU, /*timed_per_step=*/true, nullptr);
  window.AddStep(torch::tensor(0.6F), true, denominator(3), torch::Tensor(), torch::Tensor(), 4, 0,
                 now);
  window.AddStep(torch::tensor(0.0F), true, denominator(0), torch::Tensor(), torch::Tensor(), 4, 0,
                 now);
  window.AddStep(torch::tensor(0.2F), true, host_denominator(1), torch::Tensor(), torch::Tensor(),
                 4, 0, now);
  WindowTotals totals = window.Close();
  EXPECT_NEAR(totals.loss_sum / totals.loss_denominator, (0.6 * 3 + 0.2) / 4, 1e-7);
  EXPECT_EQ(totals.samples, 12);

  window.Restart();  // only ignored rows: 0 / 0
  window.AddStep(torch::tensor(0.0F), true, denominator(0), torch::Tensor(), torch::Tensor(), 4, 0,
                 now);
  totals = window.Close();
  EXPECT_EQ(totals.loss_denominator, 0.0);

  window.Restart();  // without a denominator a mean counts by rows, a sum once per row
  window.AddStep(torch::tensor(0.5F), true, {}, torch::Tensor(), torch::Tensor(), 2, 0, now);
  window.AddStep(torch::tensor(3.0F), false, {}, torch::Tensor(), torch::Tensor(), 2, 0, now);
  totals = window.Close();
  EXPECT_NEAR(totals.loss_sum / totals.loss_denominator, (0.5 * 2 + 3.0) / 4, 1e-7);
}

}  // namespace
}  // namespace polytrain
