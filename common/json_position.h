// Where in a JSON text a problem lies, so that errors name the line an editor shows: protobuf's
// JSON parser names a field path but no position.
#ifndef POLYTRAIN_COMMON_JSON_POSITION_H_
#define POLYTRAIN_COMMON_JSON_POSITION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polytrain {

// "LINE:COLUMN" (1-based) of the byte at `offset` (0-based) of `text`; the column counts bytes
// (a line with multi-byte UTF-8 before the place shows a larger number than an editor).
std::string TextPosition(absl::string_view text, size_t offset);

// The 1-based line of the one object member of the JSON text whose key is one of `keys`; 0 when
// there is none or more than one (a position that may be the wrong one is not given).
int LineOfJsonKey(absl::string_view text, const std::vector<std::string>& keys);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_JSON_POSITION_H_
