#include "loss/core/scalar_loss.h"

#include <cmath>

#include "loss/core/sample_math.h"

namespace polytrain::loss {

std::vector<CurvePoint> EvaluateCurve(const PolySeries& series, const std::vector<double>& pts) {
  const int64_t n = static_cast<int64_t>(pts.size());
  std::vector<double> x(n), xg(n), q(n), d(n), q_rest(n);
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0 - pts[i];
  PowGamma(x.data(), n, series.gamma, xg.data());
  const SeriesPolynomials polynomials(series.extra);
  polynomials.Evaluate(x.data(), n, q.data(), d.data(), q_rest.data());

  std::vector<CurvePoint> curve(n);
  for (int64_t i = 0; i < n; ++i) {
    const double pt = pts[i];
    const double ce = -std::log(pt);
    // A curve has neither an alpha-balance nor class weights: never negative.
    SampleTerms terms = CombineSample(series.gamma, series.ce_tail, /*never_negative=*/true, x[i],
                                      xg[i], ce, /*poly_weight=*/1.0, q[i], d[i]);
    // A negative c_1 cancels the CE term's first power of x: summed as HardTargetLoss does.
    if (series.ce_tail && polynomials.first() < 0.0) {
      terms.loss =
          HardTargetLoss(/*never_negative=*/true, x[i], xg[i], ce, /*ce_weight=*/1.0,
                         /*poly_weight=*/1.0, polynomials.first(), polynomials.second(), q_rest[i]);
    }
    // dx/dpt = -1 and dce/dpt = -1/pt.
    double dloss_dpt = -terms.dloss_dx;
    if (terms.dloss_dce != 0.0) dloss_dpt -= terms.dloss_dce / pt;
    // + 0.0 turns -0 into 0 for printing.
    curve[i] = CurvePoint{pt, terms.loss + 0.0, dloss_dpt + 0.0};
  }
  return curve;
}

}  // namespace polytrain::loss
