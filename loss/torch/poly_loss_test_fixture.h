// What the fused op's tests share (poly_loss_test.cc: identities against torch's losses and
// closed forms; poly_loss_precision_test.cc: precision at the edges of float32 and float64): a
// LossConfig from LossSpec text, a run with its gradient, a closeness check, and the fixture's
// float64 batch.
#ifndef POLYTRAIN_LOSS_TORCH_POLY_LOSS_TEST_FIXTURE_H_
#define POLYTRAIN_LOSS_TORCH_POLY_LOSS_TEST_FIXTURE_H_

#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "loss/spec/loss_spec.h"

namespace polytrain::loss {

inline LossConfig Config(const std::string& text) {
  polytrain::v1::LossSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  absl::StatusOr<LossConfig> config = ToLossConfig(spec);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

struct LossAndGrad {
  torch::Tensor loss;
  torch::Tensor grad;
};

template <typename Fn>
inline LossAndGrad RunWithGrad(const torch::Tensor& logits, Fn fn) {
  torch::Tensor z = logits.detach().clone().requires_grad_(true);
  torch::Tensor loss = fn(z);
  (loss.dim() == 0 ? loss : loss.sum()).backward();
  return {loss.detach(), z.grad()};
}

inline void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double rel = 1e-12) {
  ASSERT_EQ(a.sizes(), b.sizes());
  const double scale = std::max(1.0, b.abs().max().item<double>());
  EXPECT_LE((a - b).abs().max().item<double>(), rel * scale) << a << "\nvs\n" << b;
}

class PolyLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    logits_ = torch::randn({16, 6}, torch::kDouble) * 3;
    targets_ = torch::randint(0, 6, {16}, torch::kLong);
    targets_[3] = -100;
    targets_[9] = -100;
    weights_ = torch::tensor({0.5, 1.0, 2.0, 0.0, 1.5, 3.0}, torch::kDouble);
  }
  torch::Tensor logits_, targets_, weights_;
};

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_TORCH_POLY_LOSS_TEST_FIXTURE_H_
