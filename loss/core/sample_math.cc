#include "loss/core/sample_math.h"

#include <algorithm>

namespace polytrain::loss {
namespace {

// Points per block: both accumulators of a block stay in L1 while the K coefficients stream.
constexpr int64_t kBlock = 256;

// Horner over a block of points. The loop over points has no dependency between iterations,
// so the compiler vectorizes it; on x86-64 a second clone uses AVX2 + FMA when the CPU has them
// (chosen once at load time).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=haswell", "default")))
#endif
void HornerBlock(const double* c, const double* jc, int degree, const double* x, int64_t n,
                 double* q, double* d) {
  for (int64_t i = 0; i < n; ++i) {
    q[i] = c[degree - 1];
    d[i] = jc[degree - 1];
  }
  for (int j = degree - 2; j >= 0; --j) {
    const double cj = c[j];
    const double jcj = jc[j];
    for (int64_t i = 0; i < n; ++i) {
      q[i] = q[i] * x[i] + cj;
      d[i] = d[i] * x[i] + jcj;
    }
  }
}

}  // namespace

SeriesPolynomials::SeriesPolynomials(const std::vector<double>& extra) : c_(extra) {
  jc_.resize(c_.size());
  for (size_t j = 0; j < c_.size(); ++j) jc_[j] = static_cast<double>(j + 1) * c_[j];
}

void SeriesPolynomials::Evaluate(const double* x, int64_t n, double* q, double* d) const {
  if (c_.empty()) {
    std::fill(q, q + n, 0.0);
    std::fill(d, d + n, 0.0);
    return;
  }
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    HornerBlock(c_.data(), jc_.data(), degree(), x + start, len, q + start, d + start);
  }
}

}  // namespace polytrain::loss
