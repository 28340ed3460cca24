#include "cli/text_table.h"

#include <algorithm>
#include <utility>

namespace polytrain {

int DisplayWidth(const std::string& text) {
  int width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;  // continuation bytes add nothing
  return width;
}

TextTable::TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Line(const std::vector<std::string>& cells,
                            const std::vector<int>& widths) const {
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) line.append(columns_[i].gap, ' ');
    const int pad = widths[i] - DisplayWidth(cells[i]);
    if (columns_[i].right_aligned) {
      line.append(std::max(pad, 0), ' ');
      line += cells[i];
    } else {
      line += cells[i];
      line.append(std::max(pad, 0), ' ');
    }
  }
  line.erase(line.find_last_not_of(' ') + 1);  // an empty last cell leaves no spaces behind
  line += '\n';
  return line;
}

std::string TextTable::ToString() const {
  std::vector<int> widths;
  std::vector<std::string> headers;
  for (const Column& column : columns_) {
    widths.push_back(std::max(column.min_width, DisplayWidth(column.header)));
    headers.push_back(column.header);
  }
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out = Line(headers, widths);
  for (const auto& row : rows_) out += Line(row, widths);
  return out;
}

}  // namespace polytrain
