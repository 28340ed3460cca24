#include "worker/model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/job_spec_defaults.h"
#include "api/model_size.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace polytrain {
namespace {

namespace nn = torch::nn;

// Two 3x3 convolutions with batch norm, plus an identity or 1x1 projection shortcut.
struct BasicBlockImpl : nn::Module {
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        bn1(out),
        conv2(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)),
        bn2(out) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (stride != 1 || in != out) {
      shortcut =
          nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
                         nn::BatchNorm2d(out));
      register_module("shortcut", shortcut);
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = torch::relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    return torch::relu(out + (shortcut.is_empty() ? x : shortcut->forward(x)));
  }

  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

int64_t Product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t d : v) p *= d;
  return p;
}

}  // namespace

absl::StatusOr<nn::Sequential> BuildModel(const polytrain::v1::ModelSpec& spec,
                                          const std::vector<int64_t>& shape, int64_t classes,
                                          const std::string& path) {
  // Before a byte of it is allocated: a model too large is an error, not an out-of-memory kill;
  // a CNN of more blocks than its image takes, an error rather than an empty image.
  POLYTRAIN_RETURN_IF_ERROR(CheckModelSize(spec, shape, classes, path));
  nn::Sequential model;
  switch (spec.architecture_case()) {
    case polytrain::v1::ModelSpec::kMlp: {
      model->push_back(nn::Flatten());
      int64_t width = Product(shape);
      for (int hidden : spec.mlp().hidden()) {
        model->push_back(nn::Linear(width, hidden));
        model->push_back(nn::ReLU());
        if (spec.mlp().dropout() > 0) model->push_back(nn::Dropout(spec.mlp().dropout()));
        width = hidden;
      }
      model->push_back(nn::Linear(width, classes));
      return model;
    }
    case polytrain::v1::ModelSpec::kCnn:
    case polytrain::v1::ModelSpec::kResnet:
      break;
    case polytrain::v1::ModelSpec::kTorchscript:  // loaded (scripted_model.h), not built
      return InvalidField(FieldPath(path, "torchscript"), "is not a built-in model");
    case polytrain::v1::ModelSpec::ARCHITECTURE_NOT_SET:
      return InvalidField(FieldPath(path, "architecture"), "no model set");
  }

  const bool cnn = spec.has_cnn();
  const std::string field = FieldPath(path, cnn ? "cnn" : "resnet");
  if (shape.size() != 3) {
    return InvalidField(field, absl::StrCat("needs image samples [C, H, W]; this dataset's "
                                            "samples are [",
                                            absl::StrJoin(shape, ", "), "]"));
  }
  int64_t channels = shape[0], height = shape[1], width = shape[2];
  if (cnn) {
    for (int out : CnnChannels(spec.cnn())) {  // as many as the image takes (CheckModelSize)
      model->push_back(nn::Conv2d(nn::Conv2dOptions(channels, out, 3).padding(1)));
      model->push_back(nn::ReLU());
      model->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
      channels = out;
      height /= 2;
      width /= 2;
    }
    model->push_back(nn::Flatten());
    model->push_back(nn::Linear(channels * height * width, CnnHidden(spec.cnn())));
    model->push_back(nn::ReLU());
    if (spec.cnn().dropout() > 0) model->push_back(nn::Dropout(spec.cnn().dropout()));
    model->push_back(nn::Linear(CnnHidden(spec.cnn()), classes));
    return model;
  }

  const std::vector<int> stages = ResNetChannels(spec.resnet());
  model->push_back(nn::Conv2d(nn::Conv2dOptions(channels, stages[0], 3).padding(1).bias(false)));
  model->push_back(nn::BatchNorm2d(stages[0]));
  model->push_back(nn::ReLU());
  channels = stages[0];
  for (size_t s = 0; s < stages.size(); ++s) {
    for (int b = 0; b < ResNetBlocks(spec.resnet()); ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      model->push_back(BasicBlock(channels, stages[s], stride));
      channels = stages[s];
    }
  }
  model->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  model->push_back(nn::Flatten());
  model->push_back(nn::Linear(channels, classes));
  return model;
}

namespace {

class SequentialModel : public TrainableModel {
 public:
  SequentialModel(nn::Sequential model, std::string description)
      : model_(std::move(model)), description_(std::move(description)) {}

  torch::Tensor Forward(const torch::Tensor& batch) override { return model_->forward(batch); }
  std::vector<torch::Tensor> Parameters() override { return model_->parameters(); }
  std::vector<std::pair<std::string, torch::Tensor>> State() override {
    std::vector<std::pair<std::string, torch::Tensor>> state;
    for (const auto& item : model_->named_parameters())
      state.emplace_back(item.key(), item.value());
    for (const auto& item : model_->named_buffers()) state.emplace_back(item.key(), item.value());
    return state;
  }
  void SetTraining(bool training) override { model_->train(training); }
  void To(const torch::Device& device) override { model_->to(device); }
  void Save(torch::serialize::OutputArchive& archive) override { model_->save(archive); }
  void Load(torch::serialize::InputArchive& archive) override { model_->load(archive); }
  std::string Describe() const override { return description_; }

 private:
  nn::Sequential model_;
  std::string description_;
};

}  // namespace

std::unique_ptr<TrainableModel> WrapSequential(nn::Sequential model, std::string description) {
  return std::make_unique<SequentialModel>(std::move(model), std::move(description));
}

std::string DescribeModel(const polytrain::v1::ModelSpec& spec, nn::Sequential& model) {
  int64_t parameters = 0;
  for (const torch::Tensor& p : model->parameters()) parameters += p.numel();
  std::string kind = spec.has_mlp() ? "mlp" : spec.has_cnn() ? "cnn" : "resnet";
  if (spec.has_mlp()) {
    kind += " hidden [" + absl::StrJoin(spec.mlp().hidden(), ", ") + "]";
  } else if (spec.has_cnn()) {
    kind += " channels [" + absl::StrJoin(CnnChannels(spec.cnn()), ", ") + "]";
  } else {
    kind += " stages [" + absl::StrJoin(ResNetChannels(spec.resnet()), ", ") + "] x " +
            std::to_string(ResNetBlocks(spec.resnet()));
  }
  return absl::StrCat(kind, " (", parameters, " parameters)");
}

}  // namespace polytrain
