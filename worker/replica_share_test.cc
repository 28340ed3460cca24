// A rank's share of a batch's mean: its rows' part of the batch's denominator (class weights,
// ignored rows counting 0), and the denominator itself, from one pass over the batch's rows.
#include "worker/replica_share.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(ReplicaShareTest, ARanksShareIsItsRowsPartOfTheBatchsWeights) {
  loss::LossConfig config;
  config.class_weights = {0.5, 2.0, 1.0};
  config.ignore_index = 2;
  // Rows' labels 0, 1, 2, 1, 0: weights 0.5, 2, 0 (ignored), 2, 0.5.
  const ReplicaShare shares(config, torch::tensor({0, 1, 2, 1, 0}, torch::kLong), 3);
  // The epoch's order puts rows 4, 2, 1, 0, 3 at positions 0..4; the batch is positions 1..4
  // (rows 2, 1, 0, 3: weights 0, 2, 0.5, 2), this rank holds its positions 2..3 (rows 0, 3).
  const torch::Tensor order = torch::tensor({4, 2, 1, 0, 3}, torch::kLong);
  const ReplicaShare::Batch batch = shares.Of(order, 1, 4, 2, 2);
  EXPECT_DOUBLE_EQ(batch.denominator, 4.5);
  EXPECT_DOUBLE_EQ(batch.share, 2.5 / 4.5);
  // The other rank's share completes it.
  EXPECT_DOUBLE_EQ(shares.Of(order, 1, 4, 0, 2).share, 2.0 / 4.5);
  // A batch of ignored rows only: no denominator, and no share (the loss is 0 there).
  const ReplicaShare::Batch ignored = shares.Of(torch::tensor({2}, torch::kLong), 0, 1, 0, 1);
  EXPECT_EQ(ignored.denominator, 0.0);
  EXPECT_EQ(ignored.share, 0.0);
}

}  // namespace
}  // namespace polytrain
