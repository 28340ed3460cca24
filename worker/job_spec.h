// The JobSpec as users write it: validation with field paths and the defaults that the proto's
// zero values stand for. No LibTorch here, so the coordinator validates with the same code.
#ifndef POLYTRAIN_WORKER_JOB_SPEC_H_
#define POLYTRAIN_WORKER_JOB_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// Documented limits (job.proto repeats them next to each field).
inline constexpr int kMaxNameLength = 128;
inline constexpr int kMaxLabels = 32;
inline constexpr int kMaxLabelKeyLength = 63;
inline constexpr int kMaxLabelValueLength = 256;
inline constexpr int kMaxPathLength = 4096;
inline constexpr int kMaxLayerWidth = 65536;
inline constexpr int kMaxBatchSize = 65536;
inline constexpr int64_t kMaxSamples = 10'000'000;
inline constexpr int64_t kMaxSteps = 1'000'000'000;

// OK, or INVALID_ARGUMENT naming the first offending field under `path` (normally "spec").
// Data paths are checked for shape here ("..", length); whether they stay inside a worker's
// data root is checked where the data root is known (data_root.h).
absl::Status ValidateJobSpec(const polytrain::v1::JobSpec& spec, absl::string_view path = "spec");

// Labels of a spec, or a label selector: at most kMaxLabels pairs, keys 1 to kMaxLabelKeyLength
// characters from [a-z0-9._-/], values at most kMaxLabelValueLength characters.
absl::Status ValidateLabelMap(const google::protobuf::Map<std::string, std::string>& labels,
                              const std::string& path);

// The values the proto's zeros stand for.
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

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_JOB_SPEC_H_
