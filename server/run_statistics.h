// Statistics for comparing runs: is this loss really better, or noise?
#ifndef POLYTRAIN_SERVER_RUN_STATISTICS_H_
#define POLYTRAIN_SERVER_RUN_STATISTICS_H_

#include <vector>

namespace polytrain {

struct SampleSummary {
  int n = 0;
  double mean = 0.0;
  double std = 0.0;       // sample standard deviation (n - 1); 0 for one value, NaN for none
  double ci95_low = 0.0;  // Student-t 95% interval of the mean; NaN when n < 2
  double ci95_high = 0.0;
};

SampleSummary Summarize(const std::vector<double>& values);

// Two-sided p-value of Welch's unequal-variances t-test; NaN when either sample has fewer than
// 2 values or both have zero variance (1 when their means are then equal, 0 otherwise).
double WelchTTestPValue(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_RUN_STATISTICS_H_
