// The records of a zip archive (what torch.save and torch.jit.save write), checked from its
// central directory before LibTorch reads any of them: LibTorch allocates each record's declared
// size and inflates it, so a small crafted file (a "zip bomb", or a directory that lies about
// sizes) could make a worker allocate gigabytes. Each stored record must be its declared size
// and lie inside the file; compressed records (TorchScript's code) may inflate to at most
// kMaxInflatedZipBytes in all. Each pickle record nests its values at most kMaxPickleNesting
// deep (LibTorch's unpickler recurses on them) and is at most kMaxPickleRecordBytes.
#ifndef POLYTRAIN_COMMON_ZIP_RECORDS_H_
#define POLYTRAIN_COMMON_ZIP_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace polytrain {

inline constexpr int64_t kMaxInflatedZipBytes = int64_t{64} << 20;
inline constexpr int64_t kMaxZipRecords = 1'000'000;
// The most a zip directory may take, read whole into memory: far more than a million records'
// entries with names of a few hundred bytes.
inline constexpr int64_t kMaxZipDirectoryBytes = int64_t{256} << 20;
// A pickle record (data.pkl, constants.pkl, a .debug_pkl) is read whole and measured before
// LibTorch unpickles it (common/pickle_nesting.h): real ones are kilobytes to a few megabytes
// (a tensor's entry is ~100 bytes; the tensors' data are records of their own).
inline constexpr int64_t kMaxPickleRecordBytes = int64_t{16} << 20;

// The names of the pickle records at an archive's top level ("<archive>/<name>.pkl": "data.pkl",
// "constants.pkl") of at most kMaxTopLevelRecordName characters, lower-cased, as LibTorch
// (miniz) finds them ignoring case.
using TopLevelRecords = std::set<std::string>;
inline constexpr size_t kMaxTopLevelRecordName = 64;

// `archive` is the whole file. INVALID_ARGUMENT "<field>: <what>: <why>" when it is not a zip
// archive or a record breaks the rules above; `what` says what the file should be, e.g. "not a
// file torch.save wrote". With `top_level`, the names of its top-level records are put there
// when the archive passes (which records a kind of file needs is torch_file_check.h's business).
absl::Status CheckZipRecords(absl::string_view archive, const std::string& field,
                             absl::string_view what, TopLevelRecords* top_level = nullptr);

// The same for a file, reading only its directory (INTERNAL when it cannot be opened).
absl::Status CheckZipFileRecords(const std::string& path, const std::string& field,
                                 absl::string_view what, TopLevelRecords* top_level = nullptr);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_ZIP_RECORDS_H_
