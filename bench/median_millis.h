// The timing loop the store benchmarks share: the median of a few timed calls.
#ifndef POLYTRAIN_BENCH_MEDIAN_MILLIS_H_
#define POLYTRAIN_BENCH_MEDIAN_MILLIS_H_

#include <algorithm>
#include <chrono>
#include <vector>

namespace polytrain::bench {

// The median, in milliseconds, of `repeats` timed calls of `run`; `check` is given each call's
// result, untimed, and ends the benchmark (by its own exit) when the result is wrong.
template <typename Run, typename Check>
double MedianMillis(int repeats, const Run& run, const Check& check) {
  std::vector<double> millis;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const auto result = run();
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    check(result);
  }
  std::sort(millis.begin(), millis.end());
  return millis[millis.size() / 2];
}

}  // namespace polytrain::bench

#endif  // POLYTRAIN_BENCH_MEDIAN_MILLIS_H_
