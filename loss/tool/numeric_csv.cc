#include "loss/tool/numeric_csv.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace polytrain::loss {

namespace {

// "N column(s)" in words.
std::string Columns(int64_t n) { return absl::StrCat(n, n == 1 ? " column" : " columns"); }

// A decimal number (SimpleAtod also takes hexadecimal "0x2", which no CSV writer means), or
// nan/inf in words, which the caller then refuses as not finite.
bool IsDecimalOrWord(absl::string_view cell) {
  absl::string_view word = cell;
  absl::ConsumePrefix(&word, "-") || absl::ConsumePrefix(&word, "+");
  if (absl::EqualsIgnoreCase(word, "nan") || absl::EqualsIgnoreCase(word, "inf") ||
      absl::EqualsIgnoreCase(word, "infinity")) {
    return true;
  }
  return !cell.empty() && cell.find_first_not_of("0123456789+-.eE") == absl::string_view::npos;
}

}  // namespace

absl::StatusOr<NumericTable> ReadNumericCsv(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  // What stopped stat (a directory without permission, a loop of links) is said as it is.
  if (error) return absl::FailedPreconditionError(absl::StrCat(path, ": ", error.message()));
  // A FIFO or a device would be read until it ends, if ever.
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": cannot open: ", std::generic_category().message(errno)));
  }
  NumericTable table;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view content = absl::StripAsciiWhitespace(line);
    if (line_number == 1) absl::ConsumePrefix(&content, "\xEF\xBB\xBF");  // a UTF-8 BOM
    if (content.empty() || content[0] == '#') continue;
    int64_t cols = 0;
    for (absl::string_view cell : absl::StrSplit(content, ',')) {
      ++cols;
      double value = 0.0;
      cell = absl::StripAsciiWhitespace(cell);
      if (!IsDecimalOrWord(cell) || !absl::SimpleAtod(cell, &value)) {
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
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number, ": has ", Columns(cols), ", earlier rows have ", table.cols));
    }
    table.cols = cols;
    ++table.rows;
    table.lines.push_back(line_number);
  }
  if (table.rows == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  return table;
}

}  // namespace polytrain::loss
