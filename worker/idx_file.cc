#include "worker/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"

namespace polytrain {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly n bytes (gzread also reads plain files as they are).
bool ReadExactly(gzFile file, void* out, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(out);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n, 1 << 30));
    const int got = gzread(file, bytes, chunk);
    if (got <= 0) return false;
    bytes += got;
    n -= got;
  }
  return true;
}

}  // namespace

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path, absl::string_view label) {
  const absl::string_view name = label.empty() ? absl::string_view(path) : label;
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) return absl::NotFoundError(absl::StrCat(name, ": cannot open file"));
  uint8_t magic[4];
  if (!ReadExactly(file.get(), magic, 4) || magic[0] != 0 || magic[1] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not an IDX file (bad magic number)"));
  }
  if (magic[2] != 0x08) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": IDX element type 0x", absl::Hex(magic[2]), " unsupported (only unsigned byte)"));
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": IDX rank ", rank, " unsupported"));
  }
  IdxArray array;
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    uint8_t be[4];
    if (!ReadExactly(file.get(), be, 4)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": truncated IDX header"));
    }
    const int64_t dim = (int64_t{be[0]} << 24) | (be[1] << 16) | (be[2] << 8) | be[3];
    array.dims.push_back(dim);
    total *= dim;
    if (total > kMaxIdxBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": IDX data larger than ", kMaxIdxBytes, " bytes"));
    }
  }
  // Read in chunks, the buffer growing with what the file really holds: a few bytes whose
  // header claims 2 GiB cost no more than they hold.
  constexpr int64_t kChunkBytes = int64_t{16} << 20;
  while (static_cast<int64_t>(array.data.size()) < total) {
    const int64_t at = static_cast<int64_t>(array.data.size());
    const int64_t n = std::min(kChunkBytes, total - at);
    array.data.resize(at + n);
    if (!ReadExactly(file.get(), array.data.data() + at, n)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": IDX data shorter than its header's ", total, " bytes"));
    }
  }
  // Bytes past the header's count mean the header describes another array (a file cut from a
  // larger one, two files joined): taking its first rows would train on a misread file.
  uint8_t extra;
  const int past_end = gzread(file.get(), &extra, 1);
  if (past_end < 0) {
    int code = 0;
    return absl::InvalidArgumentError(absl::StrCat(name, ": damaged gzip data after the IDX data (",
                                                   gzerror(file.get(), &code), ")"));
  }
  if (past_end > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": IDX data longer than its header's ", total,
                     " bytes (its header's dimensions do not describe the file)"));
  }
  return array;
}

}  // namespace polytrain
