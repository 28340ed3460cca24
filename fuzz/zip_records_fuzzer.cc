// Fuzzes what the coordinator and the worker check of a torch file before LibTorch reads any of
// it: the zip's directory and records (common/zip_records.h) and how deep each pickle record
// nests its values (common/pickle_nesting.h). Both take files from anyone holding a client
// token, so a crash, a hang or an allocation out of proportion to the input is a bug.
//
// Input: byte 0 bit 0 clear: the rest is a zip archive; set: the rest is one pickle.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/pickle_nesting.h"
#include "common/zip_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) {
    constexpr int64_t kStopAbove = 64;
    const int64_t depth = polytrain::PickleNesting(rest, kStopAbove);
    // kUnmeasurable, or a depth never past the stop and never deeper than the pickle is long
    // (a container is an opcode of at least a byte).
    if (depth != polytrain::kUnmeasurable &&
        (depth < 0 || depth > kStopAbove + 1 || depth > static_cast<int64_t>(rest.size()))) {
      __builtin_trap();
    }
  } else {
    (void)polytrain::CheckZipRecords(rest, "f", "not a torch file");
  }
  return 0;
}
