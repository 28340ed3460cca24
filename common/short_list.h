// A list of things named in one message, cut short: "a, b, c and 5 more". Errors that name what
// they checked (ranks, checkpoints, parameters) stay one readable line however many there are.
#ifndef POLYTRAIN_COMMON_SHORT_LIST_H_
#define POLYTRAIN_COMMON_SHORT_LIST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polytrain {

// The first `shown` of `items` joined by `separator`, then "<separator>and N more" (with a
// separator of ", " just " and N more") for the rest.
std::string ShortList(const std::vector<std::string>& items, size_t shown,
                      absl::string_view separator = ", ");

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_SHORT_LIST_H_
