// How polyctl compare shows a CompareJobsResponse: a table per loss (and per job) for people,
// JSON and CSV for programs, the runs' curves as an SVG chart. Printing only.
#ifndef POLYTRAIN_CLIENT_COMPARISON_OUTPUT_H_
#define POLYTRAIN_CLIENT_COMPARISON_OUTPUT_H_

#include <string>

#include "polytrain/v1/coordinator.pb.h"

namespace polytrain {

// `polyctl compare`: table (per loss, and per job with `per_job`), json or csv; with group_by,
// each row led by its label value.
void PrintComparison(const polytrain::v1::CompareJobsResponse& table, const std::string& format,
                     bool per_job);
// The eval metric and train loss of every run over steps, coloured by loss (and group), as SVG.
std::string ComparisonChart(const polytrain::v1::CompareJobsResponse& table);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_COMPARISON_OUTPUT_H_
