// Reads numeric CSV files for `polyloss eval`: one sample per line, comma-separated numbers.
// Blank lines and lines starting with '#' are skipped; there is no header row.
#ifndef POLYTRAIN_LOSS_TOOL_NUMERIC_CSV_H_
#define POLYTRAIN_LOSS_TOOL_NUMERIC_CSV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace polytrain::loss {

// At most this many numbers in one file (80 MB of doubles).
inline constexpr int64_t kMaxCsvValues = 10'000'000;

struct NumericTable {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> values;  // row-major
  std::vector<int64_t> lines;  // each row's line in the file (from 1), for messages
};

// Every row must have the same number of columns. Errors name the file, line and column.
absl::StatusOr<NumericTable> ReadNumericCsv(const std::string& path);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_TOOL_NUMERIC_CSV_H_
