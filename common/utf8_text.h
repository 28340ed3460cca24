// Text that must be valid UTF-8 before it goes into a protobuf string field: proto3 refuses a
// message holding invalid UTF-8 whole, so an error quoting arbitrary bytes (a file's contents, a
// LibTorch message) or one cut in the middle of a character would make the message that carries
// it unreadable, and the record that stores it.
#ifndef POLYTRAIN_COMMON_UTF8_TEXT_H_
#define POLYTRAIN_COMMON_UTF8_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace polytrain {

// Whether `text` is valid UTF-8 as protobuf checks it: no overlong forms, no surrogates, nothing
// past U+10FFFF.
bool IsValidUtf8(absl::string_view text);

// `text` with each byte that does not begin a valid UTF-8 sequence replaced by U+FFFD.
std::string ToValidUtf8(absl::string_view text);

// The characters (code points) in valid UTF-8 `text`: its bytes less the continuation bytes.
size_t Utf8Length(absl::string_view text);

// The longest prefix of valid UTF-8 `text` of at most `max_bytes` bytes that ends between two
// characters.
absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_UTF8_TEXT_H_
