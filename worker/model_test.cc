// The built-in models as the worker builds them: api/model_size.h counts their parameters
// exactly, and a model over the bound is refused before it is allocated.
#include "worker/model.h"

#include "absl/strings/match.h"
#include "api/limits.h"
#include "api/model_size.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using polytrain::v1::ModelSpec;

ModelSpec Model(const std::string& text) {
  ModelSpec model;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &model)) << text;
  return model;
}

TEST(ModelSizeTest, CountsEveryBuiltInModelsParametersAsBuilt) {
  struct Case {
    std::string model;
    std::vector<int64_t> shape;
    int64_t classes;
  };
  const std::vector<Case> cases = {
      {"mlp {}", {20}, 5},
      {"mlp { hidden: [32, 7] dropout: 0.1 }", {1, 28, 28}, 10},
      {"cnn {}", {1, 28, 28}, 10},
      {"cnn { channels: [3, 5, 2] hidden: 9 }", {3, 17, 23}, 4},
      {"resnet {}", {1, 28, 28}, 10},
      {"resnet { stage_channels: [4, 4, 8] blocks_per_stage: 2 }", {3, 32, 32}, 7},
      {"resnet { stage_channels: [6] }", {2, 5, 5}, 3},
  };
  for (const Case& c : cases) {
    const ModelSpec spec = Model(c.model);
    absl::StatusOr<torch::nn::Sequential> model = BuildModel(spec, c.shape, c.classes);
    ASSERT_TRUE(model.ok()) << c.model << ": " << model.status();
    int64_t built = 0;
    for (const torch::Tensor& p : (*model)->parameters()) built += p.numel();
    EXPECT_EQ(BuiltInModelParameters(spec, c.shape, c.classes), static_cast<double>(built))
        << c.model;
  }
}

TEST(ModelSizeTest, ACnnOfMoreBlocksThanItsImageTakesIsNotBuilt) {
  EXPECT_TRUE(BuildModel(Model("cnn { channels: [1, 1, 1, 1] }"), {1, 16, 16}, 2).ok());
  EXPECT_EQ(BuildModel(Model("cnn { channels: [1, 1] }"), {1, 2, 3}, 2).status().message(),
            "spec.model.cnn.channels: 2 blocks are too many for samples [1, 2, 3]: each block "
            "halves the image (2 -> 1), so at most 1 fit");
  EXPECT_EQ(
      BuildModel(Model("cnn { channels: [1, 1, 1, 1, 1] }"), {1, 16, 16}, 2).status().message(),
      "spec.model.cnn.channels: 5 blocks are too many for samples [1, 16, 16]: each block "
      "halves the image (16 -> 8 -> 4 -> 2 -> 1), so at most 4 fit");
}

TEST(ModelSizeTest, AModelOverTheBoundIsRefusedBeforeItIsAllocated) {
  // A linear model has classes x (features + 1) parameters: exactly the bound, then one
  // feature more. The second would need 4 GB had it been allocated.
  const ModelSpec linear = Model("mlp {}");
  EXPECT_TRUE(CheckModelSize(linear, {999'999}, 1000, "spec.model").ok());
  EXPECT_EQ(std::string(CheckModelSize(linear, {1'000'000}, 1000, "spec.model").message()),
            "spec.model.mlp.hidden: makes a model of 1,000,001,000 parameters for samples "
            "[1000000] and 1000 classes; the most is 1,000,000,000");

  // 16 x 65536 hidden units: 64 billion parameters, refused by the worker's builder at once.
  ModelSpec wide;
  for (int i = 0; i < 16; ++i) wide.mutable_mlp()->add_hidden(kMaxLayerWidth);
  const absl::StatusOr<torch::nn::Sequential> model = BuildModel(wide, {1, 28, 28}, 10);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(model.status().message()),
            "spec.model.mlp.hidden: makes a model of 64,477,593,610 parameters for samples "
            "[1, 28, 28] and 10 classes; the most is 1,000,000,000");

  const absl::StatusOr<torch::nn::Sequential> resnet = BuildModel(
      Model("resnet { stage_channels: [1024, 1024, 1024, 1024, 1024, 1024] blocks_per_stage: 16 }"),
      {3, 32, 32}, 10);
  EXPECT_EQ(resnet.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(resnet.status().message(), "spec.model.resnet: makes a model of"))
      << resnet.status();
}

}  // namespace
}  // namespace polytrain
