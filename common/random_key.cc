#include "common/random_key.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace polytrain {

std::string RandomHexKey(int bytes) {
  std::vector<unsigned char> key(bytes);
  if (RAND_bytes(key.data(), bytes) != 1) {
    // No entropy to be had: no key that could be guessed is handed out.
    spdlog::critical("OpenSSL's RAND_bytes failed; cannot make a session key");
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

}  // namespace polytrain
