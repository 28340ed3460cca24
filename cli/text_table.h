// A table for a terminal: each column as wide as its widest cell, and at least its minimum, so
// that a long name widens its column instead of pushing the rest of its row out of line. Widths
// count characters (UTF-8 code points), not bytes.
#ifndef POLYTRAIN_CLI_TEXT_TABLE_H_
#define POLYTRAIN_CLI_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace polytrain {

class TextTable {
 public:
  struct Column {
    std::string header;
    int min_width = 0;
    bool right_aligned = false;  // numbers
    int gap = 1;                 // spaces before the column (none before the first)
  };

  explicit TextTable(std::vector<Column> columns);

  // A row has one cell per column; missing cells are empty, extra ones are dropped.
  void AddRow(std::vector<std::string> cells);

  // The header line and the rows, each ending in a newline; no line ends in spaces.
  std::string ToString() const;

 private:
  std::string Line(const std::vector<std::string>& cells, const std::vector<int>& widths) const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// The characters (UTF-8 code points) in `text`.
int DisplayWidth(const std::string& text);

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_TEXT_TABLE_H_
