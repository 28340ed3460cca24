// The optimizer a spec asks for, with torch's defaults where the spec leaves a field unset and
// the spec's value where it sets one, 0 included.
#include "worker/optimizer.h"

#include <memory>
#include <string>
#include <tuple>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

std::tuple<double, double> AdamBetas(const std::string& text) {
  polytrain::v1::OptimizerSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  std::unique_ptr<torch::optim::Optimizer> optimizer =
      MakeOptimizer(spec, {torch::zeros({2}, torch::requires_grad())});
  auto& options = optimizer->param_groups()[0].options();
  if (spec.has_adamw()) return static_cast<torch::optim::AdamWOptions&>(options).betas();
  return static_cast<torch::optim::AdamOptions&>(options).betas();
}

TEST(OptimizerTest, AdamBetasUnsetAreTorchsDefaultsAndZeroIsZero) {
  EXPECT_EQ(AdamBetas("adam {} learning_rate: 0.1"), std::make_tuple(0.9, 0.999));
  EXPECT_EQ(AdamBetas("adam { beta1: 0 beta2: 0.99 } learning_rate: 0.1"),
            std::make_tuple(0.0, 0.99));
  EXPECT_EQ(AdamBetas("adamw { beta2: 0 } learning_rate: 0.1"), std::make_tuple(0.9, 0.0));
}

}  // namespace
}  // namespace polytrain
