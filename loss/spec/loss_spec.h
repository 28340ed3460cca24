// The LossSpec message as users write it: validation with field paths, and canonicalization
// into the LossConfig the kernels run. No LibTorch here; the coordinator and polyctl use it too.
#ifndef POLYTRAIN_LOSS_SPEC_LOSS_SPEC_H_
#define POLYTRAIN_LOSS_SPEC_LOSS_SPEC_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loss/core/loss_config.h"
#include "polytrain/v1/loss.pb.h"

namespace polytrain::loss {

// OK, or INVALID_ARGUMENT naming the first offending field, e.g.
// "loss.poly_n.epsilons[3]: must be >= -1/4, got -0.5". `path` is the message's own path
// ("loss" inside a JobSpec, "" at top level).
absl::Status ValidateLossSpec(const polytrain::v1::LossSpec& spec, absl::string_view path = "");

// Validates, then returns the canonical form: every preset becomes (gamma, tail, c_1..c_K).
absl::StatusOr<LossConfig> ToLossConfig(const polytrain::v1::LossSpec& spec,
                                        absl::string_view path = "");

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_SPEC_LOSS_SPEC_H_
