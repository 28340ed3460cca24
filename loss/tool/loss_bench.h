// The loss benchmark behind `polyloss bench`: forward + backward of torch's cross_entropy, the
// fused PolyLoss op and the naive term-by-term composition, all in one process on the same
// inputs, interleaved round by round so that machine noise hits every case alike.
#ifndef POLYTRAIN_LOSS_TOOL_LOSS_BENCH_H_
#define POLYTRAIN_LOSS_TOOL_LOSS_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loss/torch/poly_loss.h"

namespace polytrain::loss {

struct LossBenchOptions {
  int64_t batch = 4096;
  int64_t classes = 1000;
  int warmup = 3;              // untimed rounds first
  int rounds = 15;             // timed rounds; each case runs once per round
  int threads = 1;             // LibTorch intra-op threads
  bool naive = true;           // include the naive compositions
  bool sigmoid = true;         // include the sigmoid cases
  std::string filter;          // only cases whose name contains this
  std::string device = "cpu";  // "cpu" or "cuda" (timed with a synchronize after each case)
  KernelPath path = KernelPath::kAuto;  // where the fused op's series runs
  // Added to each row's target logit: 0 draws logits with no confident row; 20 makes every row
  // confident (p_t > 0.99), where the host kernels take 1 - p_t from the other classes.
  double target_margin = 0;
};

struct LossBenchRow {
  std::string group;     // "softmax" or "sigmoid"
  std::string name;      // e.g. "fused poly_n N=1000"
  double median_ms = 0;  // per forward + backward
  double min_ms = 0;
  double ratio = 0;  // median / the group's baseline median
};

// INVALID_ARGUMENT naming --filter when it leaves no case but the baselines.
absl::StatusOr<std::vector<LossBenchRow>> RunLossBench(const LossBenchOptions& options);

// A fixed-width table with the settings (sizes, threads, allocator) in its header.
std::string FormatLossBench(const LossBenchOptions& options, const std::vector<LossBenchRow>& rows);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_TOOL_LOSS_BENCH_H_
