#include "common/byte_count.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polytrain {

std::string ByteCountText(int64_t bytes) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  constexpr int64_t kGiB = int64_t{1} << 30;
  if (bytes == 1) return "1 byte";
  if (bytes < kMiB) return absl::StrCat(bytes, " bytes");
  if (bytes < kGiB) {
    return absl::StrFormat("%d bytes (%.1f MiB)", bytes, static_cast<double>(bytes) / kMiB);
  }
  return absl::StrFormat("%d bytes (%.2f GiB)", bytes, static_cast<double>(bytes) / kGiB);
}

}  // namespace polytrain
