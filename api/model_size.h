// How many parameters a built-in model (mlp, cnn, resnet) has, counted as the worker builds it,
// and the bound on that count: a JobSpec whose model could never be allocated is refused when it
// is submitted (where the data's shape is known or bounded) and again by the worker (with the
// data's own shape) before a byte of it is allocated.
#ifndef POLYTRAIN_API_MODEL_SIZE_H_
#define POLYTRAIN_API_MODEL_SIZE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// The parameters (weights, biases, batch-norm scales and shifts; not buffers) of a built-in
// model for samples of `sample_shape` ({C, H, W} for images, {features} otherwise) and
// `classes` classes. A double: exact up to 2^53, and never overflows whatever the spec says.
// 0 for a TorchScript model or an image model given non-image samples.
double BuiltInModelParameters(const polytrain::v1::ModelSpec& model,
                              const std::vector<int64_t>& sample_shape, int64_t classes);

// Refuses a built-in model of more than kMaxModelParameters parameters, naming the field that
// sizes it (`path` is the ModelSpec's, e.g. "spec.model"), and a CNN of more blocks than halve
// the samples' image to one pixel (28 x 28 takes at most 4).
absl::Status CheckModelSize(const polytrain::v1::ModelSpec& model,
                            const std::vector<int64_t>& sample_shape, int64_t classes,
                            const std::string& path);

// What a submitted JobSpec's model is checked against before any data is read: the dataset's
// own shape where the spec fixes it (synthetic; fashion_mnist, whose samples are [1, 28, 28]
// of 10 classes), otherwise the smallest shape any data could have for this model, so that
// the check refuses only what no data could make fit.
struct SampleShapeBound {
  std::vector<int64_t> sample_shape;
  int64_t classes = 2;
};
SampleShapeBound SubmittedSampleShape(const polytrain::v1::ModelSpec& model,
                                      const polytrain::v1::DatasetSpec& dataset);

}  // namespace polytrain

#endif  // POLYTRAIN_API_MODEL_SIZE_H_
