// L(pt) and dL/dpt of a PolySeries at scalar points, in double precision, for a hard target
// with weight 1: what `polyloss curve` prints and what tests compare the kernels against.
#ifndef POLYTRAIN_LOSS_CORE_SCALAR_LOSS_H_
#define POLYTRAIN_LOSS_CORE_SCALAR_LOSS_H_

#include <vector>

#include "loss/core/loss_config.h"

namespace polytrain::loss {

struct CurvePoint {
  double pt = 0.0;
  double loss = 0.0;       // +inf at pt = 0 when the CE tail is present
  double dloss_dpt = 0.0;  // -inf at pt = 0 when the CE tail is present
};

// Evaluates at each pt, which must lie in [0, 1] (callers validate).
std::vector<CurvePoint> EvaluateCurve(const PolySeries& series, const std::vector<double>& pts);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_CORE_SCALAR_LOSS_H_
