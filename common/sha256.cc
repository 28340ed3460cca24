#include "common/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <memory>

#include "common/chunked_file.h"

namespace polytrain {

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

std::string ToHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (uint8_t byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) { return ToHex(Sha256(data)); }

Sha256Hasher::Sha256Hasher() : context_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), EVP_sha256(), nullptr);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_)); }

void Sha256Hasher::Update(absl::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), data.data(), data.size());
}

std::string Sha256Hasher::FinishHex() {
  Sha256Digest digest;
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), digest.data(), &length);
  return ToHex(digest);
}

absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path, int64_t* bytes) {
  absl::StatusOr<std::unique_ptr<ChunkedFileReader>> reader =
      ChunkedFileReader::Open(path, size_t{1} << 20);
  if (!reader.ok()) return reader.status();
  Sha256Hasher hasher;
  std::string chunk;
  bool last = false;
  if (bytes != nullptr) *bytes = 0;
  while (!last) {
    if (absl::Status s = (*reader)->Next(&chunk, &last); !s.ok()) return s;
    hasher.Update(chunk);
    if (bytes != nullptr) *bytes += static_cast<int64_t>(chunk.size());
  }
  return hasher.FinishHex();
}

}  // namespace polytrain
