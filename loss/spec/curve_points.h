// The `--pt` list of the loss tools: comma-separated probabilities in [0, 1].
#ifndef POLYTRAIN_LOSS_SPEC_CURVE_POINTS_H_
#define POLYTRAIN_LOSS_SPEC_CURVE_POINTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain::loss {

inline constexpr int kMaxCurvePoints = 100000;

// INVALID_ARGUMENT naming --pt for an entry that is not a number in [0, 1], an empty list or more
// than kMaxCurvePoints entries.
absl::StatusOr<std::vector<double>> ParseCurvePoints(absl::string_view text);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_SPEC_CURVE_POINTS_H_
