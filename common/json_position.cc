#include "common/json_position.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace polytrain {

std::string TextPosition(absl::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  const absl::string_view before = text.substr(0, offset);
  const size_t line = std::count(before.begin(), before.end(), '\n') + 1;
  const size_t newline = before.rfind('\n');
  const size_t column = newline == absl::string_view::npos ? offset + 1 : offset - newline;
  return absl::StrCat(line, ":", column);
}

int LineOfJsonKey(absl::string_view text, const std::vector<std::string>& keys) {
  int line = 1, found_line = 0, found = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
    if (text[i] != '"') continue;
    // A string: its end, past escaped characters (a key holds no newline).
    size_t end = i + 1;
    while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
    if (end >= text.size()) break;
    const absl::string_view name = text.substr(i + 1, end - i - 1);
    size_t next = end + 1;
    while (next < text.size() &&
           (text[next] == ' ' || text[next] == '\t' || text[next] == '\r' || text[next] == '\n')) {
      ++next;
    }
    const bool is_key = next < text.size() && text[next] == ':';
    if (is_key && std::find(keys.begin(), keys.end(), name) != keys.end()) {
      ++found;
      found_line = line;
    }
    line += static_cast<int>(std::count(text.begin() + i, text.begin() + end, '\n'));
    i = end;
  }
  return found == 1 ? found_line : 0;
}

}  // namespace polytrain
