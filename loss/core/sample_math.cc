#include "loss/core/sample_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace polytrain::loss {
namespace {

// Points evaluated together: their accumulators and x stay in registers while all K
// coefficients stream past, so each term costs 2 multiply-adds per point and no memory
// traffic. 16 points are 4 DoubleLanes (double_lanes.h): 8 independent FMA chains, enough to
// hide the FMA latency on two FMA ports. Plain SSE2 pairs in the default clone, 256-bit AVX
// registers (and FMA, this file is built with -ffp-contract=fast) in the "fma" clone.
constexpr int64_t kPointsPerBlock = 4 * kLanes;

// Horner over kPointsPerBlock points; the clone is chosen once, at load time, from the CPU's
// features.
#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("fma", "default")))
#endif
void HornerLanes(const double* c, const double* jc, int degree, const double* x_in, double* q_out,
                 double* d_out, double* q_rest_out) {
  DoubleLanes x[4], q[4], d[4];
  std::memcpy(x, x_in, sizeof(x));
  for (int v = 0; v < 4; ++v) {
    q[v] = Broadcast(c[degree - 1]);
    d[v] = Broadcast(jc[degree - 1]);
  }
  auto step = [&](int j) {
    const double cj = c[j];
    const double jcj = jc[j];
    q[0] = q[0] * x[0] + cj;
    q[1] = q[1] * x[1] + cj;
    q[2] = q[2] * x[2] + cj;
    q[3] = q[3] * x[3] + cj;
    d[0] = d[0] * x[0] + jcj;
    d[1] = d[1] * x[1] + jcj;
    d[2] = d[2] * x[2] + jcj;
    d[3] = d[3] * x[3] + jcj;
  };
  for (int j = degree - 2; j >= 2; --j) step(j);
  // Q_rest is Horner's value two steps before its last (0 with fewer than three terms).
  if (q_rest_out != nullptr) {
    if (degree >= 3) {
      std::memcpy(q_rest_out, q, sizeof(q));
    } else {
      std::fill(q_rest_out, q_rest_out + kPointsPerBlock, 0.0);
    }
  }
  for (int j = std::min(degree - 2, 1); j >= 0; --j) step(j);
  std::memcpy(q_out, q, sizeof(q));
  std::memcpy(d_out, d, sizeof(d));
}

}  // namespace

void PowGamma(const double* x, int64_t n, double gamma, double* out) {
  if (gamma == 0.0) {
    std::fill(out, out + n, 1.0);
  } else if (gamma == 1.0) {
    std::copy(x, x + n, out);
  } else if (gamma == 2.0) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * x[i];
  } else if (gamma == 3.0) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * x[i] * x[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = std::pow(x[i], gamma);
  }
}

SeriesPolynomials::SeriesPolynomials(const std::vector<double>& extra) : c_(extra) {
  jc_.resize(c_.size());
  for (size_t j = 0; j < c_.size(); ++j) jc_[j] = static_cast<double>(j + 1) * c_[j];
}

void SeriesPolynomials::Evaluate(const double* x, int64_t n, double* q, double* d,
                                 double* q_rest) const {
  if (c_.empty()) {
    std::fill(q, q + n, 0.0);
    std::fill(d, d + n, 0.0);
    if (q_rest != nullptr) std::fill(q_rest, q_rest + n, 0.0);
    return;
  }
  int64_t start = 0;
  for (; start + kPointsPerBlock <= n; start += kPointsPerBlock) {
    HornerLanes(c_.data(), jc_.data(), degree(), x + start, q + start, d + start,
                q_rest == nullptr ? nullptr : q_rest + start);
  }
  if (start < n) {  // the last partial group, padded with zeros
    double x_pad[kPointsPerBlock] = {}, q_pad[kPointsPerBlock], d_pad[kPointsPerBlock],
           rest_pad[kPointsPerBlock];
    std::copy(x + start, x + n, x_pad);
    HornerLanes(c_.data(), jc_.data(), degree(), x_pad, q_pad, d_pad,
                q_rest == nullptr ? nullptr : rest_pad);
    std::copy(q_pad, q_pad + (n - start), q + start);
    std::copy(d_pad, d_pad + (n - start), d + start);
    if (q_rest != nullptr) std::copy(rest_pad, rest_pad + (n - start), q_rest + start);
  }
}

}  // namespace polytrain::loss
