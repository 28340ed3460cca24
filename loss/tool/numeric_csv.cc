#include "loss/tool/numeric_csv.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace polytrain::loss {

absl::StatusOr<NumericTable> ReadNumericCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  NumericTable table;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const absl::string_view content = absl::StripAsciiWhitespace(line);
    if (content.empty() || content[0] == '#') continue;
    int64_t cols = 0;
    for (absl::string_view cell : absl::StrSplit(content, ',')) {
      ++cols;
      double value = 0.0;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(cell), &value)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": column ", cols,
                                                       ": not a number: '", cell, "'"));
      }
      if (static_cast<int64_t>(table.values.size()) >= kMaxCsvValues) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": more than ", kMaxCsvValues, " values"));
      }
      table.values.push_back(value);
    }
    if (table.rows > 0 && cols != table.cols) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": has ", cols,
                                                     " columns, earlier rows have ", table.cols));
    }
    table.cols = cols;
    ++table.rows;
    table.lines.push_back(line_number);
  }
  if (table.rows == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  return table;
}

}  // namespace polytrain::loss
