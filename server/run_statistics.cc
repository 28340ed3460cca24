#include "server/run_statistics.h"

#include <cmath>
#include <limits>

#include "boost/math/distributions/students_t.hpp"

namespace polytrain {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Mean(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x;
  return v.empty() ? kNaN : sum / static_cast<double>(v.size());
}

double SampleVariance(const std::vector<double>& v, double mean) {
  if (v.size() < 2) return 0.0;
  double sum = 0.0;
  for (double x : v) sum += (x - mean) * (x - mean);
  return sum / static_cast<double>(v.size() - 1);
}

}  // namespace

SampleSummary Summarize(const std::vector<double>& values) {
  SampleSummary s;
  s.n = static_cast<int>(values.size());
  s.mean = Mean(values);
  // One run has no spread to estimate (n - 1 = 0): NaN, as numpy's ddof=1 and pandas give, and
  // shown as missing (a table's "-", CSV's empty field, JSON's null), not as a certain 0.
  s.std = s.n < 2 ? kNaN : std::sqrt(SampleVariance(values, s.mean));
  if (s.n < 2 || !std::isfinite(s.std)) {
    s.ci95_low = s.ci95_high = kNaN;
    return s;
  }
  const boost::math::students_t t(s.n - 1);
  const double half = boost::math::quantile(t, 0.975) * s.std / std::sqrt(s.n);
  s.ci95_low = s.mean - half;
  s.ci95_high = s.mean + half;
  return s;
}

double WelchTTestPValue(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return kNaN;
  const double ma = Mean(a), mb = Mean(b);
  const double va = SampleVariance(a, ma) / a.size(), vb = SampleVariance(b, mb) / b.size();
  if (va + vb == 0.0) return ma == mb ? 1.0 : 0.0;
  const double t = (ma - mb) / std::sqrt(va + vb);
  // Welch-Satterthwaite degrees of freedom.
  const double df = (va + vb) * (va + vb) / (va * va / (a.size() - 1) + vb * vb / (b.size() - 1));
  // Boost throws on a non-finite degree of freedom (from an infinite value): no test then.
  if (!std::isfinite(df) || !std::isfinite(t) || df <= 0.0) return kNaN;
  const boost::math::students_t dist(df);
  return 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
}

}  // namespace polytrain
