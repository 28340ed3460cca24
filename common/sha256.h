// SHA-256 (OpenSSL's): digests for token hashes, stable ids and content-addressed names.
#ifndef POLYTRAIN_COMMON_SHA256_H_
#define POLYTRAIN_COMMON_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace polytrain {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);
// The digest in 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);
std::string ToHex(const Sha256Digest& digest);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_SHA256_H_
