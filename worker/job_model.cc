#include "worker/job_model.h"

#include <algorithm>
#include <string>

#include "worker/model.h"
#include "worker/scripted_model.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<TrainableModel>> MakeJobModel(const polytrain::v1::ModelSpec& spec,
                                                             const Dataset& data,
                                                             const JobFiles& files,
                                                             const torch::Device& device) {
  if (spec.has_torchscript()) {
    const torch::Tensor probe =
        data.train.x.narrow(0, 0, std::min<int64_t>(2, data.train.size())).to(device);
    return LoadScriptedModel(spec.torchscript(), files, device, probe, data.classes,
                             "spec.model.torchscript");
  }
  absl::StatusOr<torch::nn::Sequential> model = BuildModel(spec, data.sample_shape, data.classes);
  if (!model.ok()) return model.status();
  (*model)->to(device);
  std::string description = DescribeModel(spec, *model);
  return WrapSequential(*std::move(model), std::move(description));
}

}  // namespace polytrain
