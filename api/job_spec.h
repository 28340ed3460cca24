// The JobSpec as users write it: one validator with field paths for the whole message (the loss
// included, through loss/spec). No LibTorch here: the coordinator validates a job at submission
// with the same code the worker runs before training it.
#ifndef POLYTRAIN_API_JOB_SPEC_H_
#define POLYTRAIN_API_JOB_SPEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/loss_dataset_fit.h"
#include "loss/core/loss_config.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// OK, or INVALID_ARGUMENT naming the first offending field under `path` (normally "spec"). The
// loss must suit training (ValidateTrainingLoss); its canonical form goes to `loss` when given.
// Data paths are checked for shape here ("..", length); whether they stay inside a worker's
// data root is checked where the data root is known (worker/data_root.h).
absl::Status ValidateJobSpec(const polytrain::v1::JobSpec& spec, absl::string_view path = "spec",
                             loss::LossConfig* loss = nullptr);

// ValidateJobSpec without the loss: a sweep's base, whose loss each job replaces.
absl::Status ValidateSweepBase(const polytrain::v1::JobSpec& spec, absl::string_view path);

// A LossSpec a job can train with: valid (loss/spec), and reduced to one number per step
// (REDUCTION_NONE is for inspecting per-sample losses only). Its canonical form goes to
// `config` when given.
absl::Status ValidateTrainingLoss(const polytrain::v1::LossSpec& loss, absl::string_view path,
                                  loss::LossConfig* config = nullptr);

// A job's name: 1 to kMaxNameLength characters of [A-Za-z0-9._-].
absl::Status ValidateJobName(absl::string_view name, absl::string_view field);

// A label's key: 1 to kMaxLabelKeyLength characters from [a-z0-9._-/].
absl::Status ValidateLabelKey(absl::string_view field, absl::string_view key);
// Labels of a spec, or a label selector: at most kMaxLabels pairs, keys 1 to kMaxLabelKeyLength
// characters from [a-z0-9._-/], values at most kMaxLabelValueLength characters.
absl::Status ValidateLabelMap(const google::protobuf::Map<std::string, std::string>& labels,
                              const std::string& path);

}  // namespace polytrain

#endif  // POLYTRAIN_API_JOB_SPEC_H_
