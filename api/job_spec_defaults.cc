#include "api/job_spec_defaults.h"

namespace polytrain {

using polytrain::v1::JobSpec;

std::vector<int> CnnChannels(const polytrain::v1::Cnn& cnn) {
  if (cnn.channels().empty()) return {32, 64};
  return {cnn.channels().begin(), cnn.channels().end()};
}
int CnnHidden(const polytrain::v1::Cnn& cnn) { return cnn.hidden() == 0 ? 128 : cnn.hidden(); }
std::vector<int> ResNetChannels(const polytrain::v1::ResNet& resnet) {
  if (resnet.stage_channels().empty()) return {16, 32, 64};
  return {resnet.stage_channels().begin(), resnet.stage_channels().end()};
}
int ResNetBlocks(const polytrain::v1::ResNet& resnet) {
  return resnet.blocks_per_stage() == 0 ? 1 : resnet.blocks_per_stage();
}
int EvalEveryEpochs(const JobSpec& spec) {
  return spec.eval().every_epochs() == 0 ? 1 : spec.eval().every_epochs();
}
int EvalBatchSize(const JobSpec& spec) {
  return spec.eval().batch_size() == 0 ? 1024 : spec.eval().batch_size();
}
int CalibrationBins(const JobSpec& spec) {
  return spec.eval().calibration_bins() == 0 ? 15 : spec.eval().calibration_bins();
}
int CheckpointKeepLast(const JobSpec& spec) {
  return spec.checkpoint().keep_last() == 0 ? 2 : spec.checkpoint().keep_last();
}
int LogEverySteps(const JobSpec& spec) {
  return spec.log_every_steps() == 0 ? 10 : spec.log_every_steps();
}
int Threads(const JobSpec& spec) { return spec.threads() == 0 ? 1 : spec.threads(); }
int MaxAttempts(const JobSpec& spec) { return spec.max_attempts() == 0 ? 3 : spec.max_attempts(); }

int Replicas(const JobSpec& spec) { return spec.replicas() == 0 ? 1 : spec.replicas(); }

}  // namespace polytrain
