#include "common/short_list.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polytrain {

std::string ShortList(const std::vector<std::string>& items, size_t shown,
                      absl::string_view separator) {
  const size_t named = std::min(shown, items.size());
  std::string list = absl::StrJoin(items.begin(), items.begin() + named, separator);
  if (items.size() > named) {
    absl::StrAppend(&list, separator == ", " ? " " : separator, "and ", items.size() - named,
                    " more");
  }
  return list;
}

}  // namespace polytrain
