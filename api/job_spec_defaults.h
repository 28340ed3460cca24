// The values a JobSpec's zero fields stand for (job.proto documents each). The trainer and the
// coordinator read a spec through these, never through a literal of their own.
#ifndef POLYTRAIN_API_JOB_SPEC_DEFAULTS_H_
#define POLYTRAIN_API_JOB_SPEC_DEFAULTS_H_

#include <vector>

#include "polytrain/v1/job.pb.h"

namespace polytrain {

std::vector<int> CnnChannels(const polytrain::v1::Cnn& cnn);
int CnnHidden(const polytrain::v1::Cnn& cnn);
std::vector<int> ResNetChannels(const polytrain::v1::ResNet& resnet);
int ResNetBlocks(const polytrain::v1::ResNet& resnet);
int EvalEveryEpochs(const polytrain::v1::JobSpec& spec);
int EvalBatchSize(const polytrain::v1::JobSpec& spec);
int CalibrationBins(const polytrain::v1::JobSpec& spec);
int CheckpointKeepLast(const polytrain::v1::JobSpec& spec);
int LogEverySteps(const polytrain::v1::JobSpec& spec);
int Threads(const polytrain::v1::JobSpec& spec);
int MaxAttempts(const polytrain::v1::JobSpec& spec);
// Data-parallel replicas (ranks) of the job: 0 means 1.
int Replicas(const polytrain::v1::JobSpec& spec);

}  // namespace polytrain

#endif  // POLYTRAIN_API_JOB_SPEC_DEFAULTS_H_
