#include "loss/spec/curve_points.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace polytrain::loss {

absl::StatusOr<std::vector<double>> ParseCurvePoints(absl::string_view text) {
  std::vector<double> pts;
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError("--pt: no points given");
  }
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    if (absl::StripAsciiWhitespace(item).empty()) {
      return absl::InvalidArgumentError("--pt: an empty item between commas");
    }
    double v = 0.0;
    if (!absl::SimpleAtod(item, &v) || !(v >= 0.0 && v <= 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--pt: each point must be a number in [0, 1], got '", item, "'"));
    }
    pts.push_back(v + 0.0);  // -0 is 0: the curve's limits at pt = 0 take their sign from it
  }
  if (pts.empty()) return absl::InvalidArgumentError("--pt: no points given");
  if (pts.size() > kMaxCurvePoints) {
    return absl::InvalidArgumentError(absl::StrCat("--pt: at most ", kMaxCurvePoints, " points"));
  }
  return pts;
}

}  // namespace polytrain::loss
