#include "api/model_size.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "api/job_spec_defaults.h"
#include "api/limits.h"
#include "common/validation.h"

namespace polytrain {
namespace {

using polytrain::v1::ModelSpec;

double Linear(double in, double out) { return in * out + out; }  // weight and bias
double Conv3x3(double in, double out, bool bias) { return in * out * 9 + (bias ? out : 0); }
double BatchNorm(double channels) { return 2 * channels; }  // scale and shift

double Mlp(const polytrain::v1::Mlp& mlp, double features, double classes) {
  double parameters = 0, width = features;
  for (int hidden : mlp.hidden()) {
    parameters += Linear(width, hidden);
    width = hidden;
  }
  return parameters + Linear(width, classes);
}

// Each block halves the image (max-pool 2x2, rounding down), as worker/model.cc builds it.
double Cnn(const polytrain::v1::Cnn& cnn, const std::vector<int64_t>& shape, double classes) {
  double parameters = 0, channels = shape[0];
  int64_t height = shape[1], width = shape[2];
  for (int out : CnnChannels(cnn)) {
    parameters += Conv3x3(channels, out, /*bias=*/true);
    channels = out;
    height /= 2;
    width /= 2;
  }
  const double hidden = CnnHidden(cnn);
  return parameters + Linear(channels * static_cast<double>(height * width), hidden) +
         Linear(hidden, classes);
}

// The stem, then per block two 3x3 convolutions with batch norm and, where the block changes
// the channels or the stride, a 1x1 projection with batch norm; the image size does not count.
double ResNet(const polytrain::v1::ResNet& resnet, double in_channels, double classes) {
  const std::vector<int> stages = ResNetChannels(resnet);
  double parameters = Conv3x3(in_channels, stages[0], /*bias=*/false) + BatchNorm(stages[0]);
  double channels = stages[0];
  for (size_t s = 0; s < stages.size(); ++s) {
    for (int b = 0; b < ResNetBlocks(resnet); ++b) {
      const double out = stages[s];
      parameters += Conv3x3(channels, out, false) + BatchNorm(out) + Conv3x3(out, out, false) +
                    BatchNorm(out);
      if ((s > 0 && b == 0) || channels != out) parameters += channels * out + BatchNorm(out);
      channels = out;
    }
  }
  return parameters + Linear(channels, classes);
}

std::string WithCommas(double value) {
  std::string digits = absl::StrFormat("%.0f", value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

}  // namespace

double BuiltInModelParameters(const ModelSpec& model, const std::vector<int64_t>& sample_shape,
                              int64_t classes) {
  switch (model.architecture_case()) {
    case ModelSpec::kMlp: {
      double features = 1;
      for (int64_t d : sample_shape) features *= static_cast<double>(d);
      return Mlp(model.mlp(), features, static_cast<double>(classes));
    }
    case ModelSpec::kCnn:
      if (sample_shape.size() != 3) return 0;
      return Cnn(model.cnn(), sample_shape, static_cast<double>(classes));
    case ModelSpec::kResnet:
      if (sample_shape.size() != 3) return 0;
      return ResNet(model.resnet(), static_cast<double>(sample_shape[0]),
                    static_cast<double>(classes));
    case ModelSpec::kTorchscript:
    case ModelSpec::ARCHITECTURE_NOT_SET:
      break;
  }
  return 0;
}

absl::Status CheckModelSize(const ModelSpec& model, const std::vector<int64_t>& sample_shape,
                            int64_t classes, const std::string& path) {
  if (model.has_cnn() && sample_shape.size() == 3) {
    // Each block halves the image: one that is 1 pixel high or wide has no block left to take.
    int64_t height = sample_shape[1], width = sample_shape[2];
    std::vector<int64_t> sides = {std::min(height, width)};
    int fits = 0;
    for (size_t block = 0; block < CnnChannels(model.cnn()).size(); ++block) {
      if (height < 2 || width < 2) {
        return InvalidField(
            FieldPath(path, "cnn.channels"),
            absl::StrCat(CnnChannels(model.cnn()).size(), " blocks are too many for samples [",
                         absl::StrJoin(sample_shape, ", "), "]: each block halves the image (",
                         absl::StrJoin(sides, " -> "), "), so at most ", fits, " fit"));
      }
      height /= 2;
      width /= 2;
      sides.push_back(std::min(height, width));
      ++fits;
    }
  }
  const double parameters = BuiltInModelParameters(model, sample_shape, classes);
  if (parameters <= static_cast<double>(kMaxModelParameters)) return absl::OkStatus();
  const std::string field = model.has_mlp()   ? FieldPath(path, "mlp.hidden")
                            : model.has_cnn() ? FieldPath(path, "cnn")
                                              : FieldPath(path, "resnet");
  return InvalidField(
      field,
      absl::StrCat("makes a model of ", WithCommas(parameters), " parameters for samples [",
                   absl::StrJoin(sample_shape, ", "), "] and ", classes, " classes; the most is ",
                   WithCommas(static_cast<double>(kMaxModelParameters))));
}

SampleShapeBound SubmittedSampleShape(const ModelSpec& model,
                                      const polytrain::v1::DatasetSpec& dataset) {
  if (dataset.has_synthetic()) {
    return {{dataset.synthetic().features()}, dataset.synthetic().classes()};
  }
  if (dataset.has_fashion_mnist()) return {{1, 28, 28}, 10};
  if (!model.has_cnn()) return {{1, 1, 1}, 2};
  // The smallest image a CNN of n blocks takes: 2^n x 2^n, one pixel after its last block.
  const int64_t side = int64_t{1} << CnnChannels(model.cnn()).size();
  return {{1, side, side}, 2};
}

}  // namespace polytrain
