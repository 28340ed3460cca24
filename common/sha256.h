// SHA-256 (OpenSSL's): digests for token hashes, stable ids and content-addressed names.
#ifndef POLYTRAIN_COMMON_SHA256_H_
#define POLYTRAIN_COMMON_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polytrain {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);
// The digest in 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);
std::string ToHex(const Sha256Digest& digest);

// SHA-256 of bytes that arrive in pieces (a streamed upload, a file read in chunks).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(absl::string_view data);
  // The digest of everything given, in 64 lowercase hex digits; the hasher is spent after.
  std::string FinishHex();

 private:
  void* context_;  // an EVP_MD_CTX, kept out of this header
};

// The SHA-256 of the file at `path` in hex: NOT_FOUND when it cannot be opened, DATA_LOSS when
// reading fails.
// With `bytes`, the count of bytes hashed goes there.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path, int64_t* bytes = nullptr);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_SHA256_H_
