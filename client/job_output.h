// How polyctl shows jobs, their events and metric histories: tables and lines for people, JSON
// and CSV for programs (comparisons: comparison_output.h). Printing only; no coordinator calls.
#ifndef POLYTRAIN_CLIENT_JOB_OUTPUT_H_
#define POLYTRAIN_CLIENT_JOB_OUTPUT_H_

#include <cmath>
#include <string>

#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// `v` with `digits` decimals, "-" for NaN (a value not measured).
std::string Fixed(double v, int digits = 4);
// A CSV field (RFC 4180): quoted, with quotes doubled, where it holds a comma, a quote or a line
// break ("poly_n(e=1,0.5)").
std::string CsvField(const std::string& text);
// The shortest text that reads back as exactly `value` (absl::StrCat keeps 6 digits only); a
// CSV's empty field for NaN, which marks a value missing (too few runs, no evaluation).
std::string Exact(double value);

// Follows a job's events as `polyctl watch` shows them: a line per state change, and a line
// per metric point (or, on a terminal, one progress line rewritten in place).
class WatchPrinter {
 public:
  explicit WatchPrinter(bool terminal) : terminal_(terminal) {}
  void Print(const polytrain::v1::JobEvent& event);
  // At the end of the stream: the job's final state line. It is held back until then because a
  // job that ended before the watch began comes first, before its history.
  void Finish();

 private:
  void PrintState(const polytrain::v1::Job& job);

  bool terminal_;
  polytrain::v1::Job job_;
  bool final_pending_ = false;
  double eval_accuracy_ = NAN;
};

// `polyctl list`: a row per job.
void PrintJobTable(const polytrain::v1::ListJobsResponse& jobs);
// `polyctl get` / `cancel`: the job's state line and its final metrics.
void PrintJob(const polytrain::v1::Job& job);
// `polyctl get` of a running job: where its newest metric point (`latest`, null when it has
// none yet) says it is.
void PrintLatestPoint(const polytrain::v1::Job& job, const polytrain::v1::MetricPoint* latest);
// `polyctl metrics`: csv (a column per value key) or json.
void PrintMetrics(const polytrain::v1::GetMetricsResponse& metrics, const std::string& format);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_JOB_OUTPUT_H_
