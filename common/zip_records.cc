#include "common/zip_records.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pickle_nesting.h"
#include "common/validation.h"
#include "zlib.h"

namespace polytrain {
namespace {

// Little-endian fields of the zip format (APPNOTE.TXT).
uint64_t Read(absl::string_view bytes, size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kEndOfDirectoryBytes = 22;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kZip64EndOfDirectoryBytes = 56;
constexpr size_t kDirectoryEntryBytes = 46;
constexpr uint16_t kStored = 0, kDeflated = 8;

// Reads `length` bytes at `offset` of an archive of `size` bytes; false when out of range.
using ReadAt = std::function<bool(uint64_t offset, size_t length, std::string* out)>;

// The bytes of a record (stored, or deflated and inflated to `uncompressed` bytes), from its
// local header at `local_offset`.
absl::StatusOr<std::string> ReadRecord(uint64_t size, const ReadAt& read_at, uint64_t method,
                                       uint64_t compressed, uint64_t uncompressed,
                                       uint64_t local_offset) {
  std::string header;
  if (!read_at(local_offset, kLocalHeaderBytes, &header) || Read(header, 0, 4) != kLocalHeader) {
    return absl::InvalidArgumentError("a damaged local header");
  }
  const uint64_t data_offset =
      local_offset + kLocalHeaderBytes + Read(header, 26, 2) + Read(header, 28, 2);
  std::string data;
  if (data_offset > size || compressed > size - data_offset ||
      !read_at(data_offset, static_cast<size_t>(compressed), &data)) {
    return absl::InvalidArgumentError("lies outside the file");
  }
  if (method == kStored) return data;
  std::string out(static_cast<size_t>(uncompressed), '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return absl::InternalError("zlib: inflateInit2");
  stream.next_in = reinterpret_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int inflated = inflate(&stream, Z_FINISH);
  const uint64_t produced = stream.total_out;
  inflateEnd(&stream);
  if (inflated != Z_STREAM_END || produced != uncompressed) {
    return absl::InvalidArgumentError(
        absl::StrCat("does not inflate to the ", uncompressed, " bytes it claims"));
  }
  return out;
}

absl::Status Check(uint64_t size, const ReadAt& read_at, const std::string& field,
                   absl::string_view what, TopLevelRecords* top_level) {
  auto bad = [&](absl::string_view why) {
    return InvalidField(field, absl::StrCat(what, ": ", why));
  };
  // The end-of-directory record is in the last 22 + 65535 (its comment) bytes.
  const uint64_t tail_bytes = std::min<uint64_t>(size, kEndOfDirectoryBytes + 0xffff);
  std::string tail;
  if (size < kEndOfDirectoryBytes || !read_at(size - tail_bytes, tail_bytes, &tail)) {
    return bad("too short for a zip archive");
  }
  size_t end = std::string::npos;
  for (size_t i = tail.size() - kEndOfDirectoryBytes + 1; i-- > 0;) {
    if (Read(tail, i, 4) == kEndOfDirectory) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos) return bad("no zip directory");
  uint64_t entries = Read(tail, end + 10, 2);
  uint64_t directory_bytes = Read(tail, end + 12, 4);
  uint64_t directory_offset = Read(tail, end + 16, 4);
  if (entries == 0xffff || directory_bytes == 0xffffffff || directory_offset == 0xffffffff) {
    // A zip64 archive: the locator just before the record points at the zip64 record.
    const uint64_t end_offset = size - tail_bytes + end;
    std::string locator, record;
    if (end_offset < kZip64LocatorBytes ||
        !read_at(end_offset - kZip64LocatorBytes, kZip64LocatorBytes, &locator) ||
        Read(locator, 0, 4) != kZip64Locator ||
        !read_at(Read(locator, 8, 8), kZip64EndOfDirectoryBytes, &record) ||
        Read(record, 0, 4) != kZip64EndOfDirectory) {
      return bad("a damaged zip64 directory");
    }
    entries = Read(record, 32, 8);
    directory_bytes = Read(record, 40, 8);
    directory_offset = Read(record, 48, 8);
  }
  if (entries > static_cast<uint64_t>(kMaxZipRecords)) {
    return bad(absl::StrCat(entries, " records; at most ", kMaxZipRecords));
  }
  // Each entry is at most its fixed part and three 16-bit lengths: a directory that claims more
  // (the whole file, say) is refused before it is read into memory.
  const uint64_t largest_directory = entries * (kDirectoryEntryBytes + 3 * 0xffff);
  if (directory_bytes > std::min<uint64_t>(largest_directory, kMaxZipDirectoryBytes)) {
    return bad(absl::StrCat("its zip directory claims ", directory_bytes, " bytes for ", entries,
                            " records"));
  }
  std::string directory;
  if (directory_offset > size || directory_bytes > size - directory_offset ||
      !read_at(directory_offset, directory_bytes, &directory)) {
    return bad("its zip directory lies outside the file");
  }
  uint64_t inflated = 0;
  size_t at = 0;
  struct PickleRecord {
    std::string name;
    uint64_t method, compressed, uncompressed, local_offset;
  };
  std::vector<PickleRecord> pickles;
  TopLevelRecords top_level_names;
  for (uint64_t n = 0; n < entries; ++n) {
    if (at + kDirectoryEntryBytes > directory.size() || Read(directory, at, 4) != kDirectoryEntry) {
      return bad("a damaged zip directory");
    }
    const uint64_t method = Read(directory, at + 10, 2);
    uint64_t compressed = Read(directory, at + 20, 4);
    uint64_t uncompressed = Read(directory, at + 24, 4);
    const size_t name_bytes = Read(directory, at + 28, 2);
    const size_t extra_bytes = Read(directory, at + 30, 2);
    const size_t comment_bytes = Read(directory, at + 32, 2);
    uint64_t local_offset = Read(directory, at + 42, 4);
    const size_t extra_at = at + kDirectoryEntryBytes + name_bytes;
    at = extra_at + extra_bytes + comment_bytes;
    if (at > directory.size()) return bad("a damaged zip directory");
    const absl::string_view full_name = absl::string_view(directory).substr(
        at - extra_bytes - comment_bytes - name_bytes, name_bytes);
    const std::string name(full_name.substr(0, 128));
    // A pickle record "<archive>/<name>", at the archive's top level (of a short name: a crafted
    // directory of a million long names must not be copied whole).
    if (const size_t slash = full_name.find('/');
        slash != absl::string_view::npos && slash + 1 < full_name.size() &&
        full_name.size() - slash - 1 <= kMaxTopLevelRecordName &&
        full_name.find('/', slash + 1) == absl::string_view::npos &&
        absl::EndsWithIgnoreCase(full_name, ".pkl")) {
      top_level_names.insert(absl::AsciiStrToLower(full_name.substr(slash + 1)));
    }
    // Sizes and offset too large for 32 bits are in the zip64 extra field, in this order.
    for (size_t e = extra_at; e + 4 <= extra_at + extra_bytes;) {
      const uint64_t id = Read(directory, e, 2), length = Read(directory, e + 2, 2);
      size_t v = e + 4;
      const size_t field_end = std::min<size_t>(v + length, extra_at + extra_bytes);
      if (id == 1) {
        for (uint64_t* value : {&uncompressed, &compressed, &local_offset}) {
          if (*value == 0xffffffff && v + 8 <= field_end) {
            *value = Read(directory, v, 8);
            v += 8;
          }
        }
      }
      e = field_end;
    }
    if (local_offset > size || compressed > size - local_offset) {
      return bad(absl::StrCat("record ", Quote(name), " lies outside the file"));
    }
    if (method == kStored && compressed != uncompressed) {
      return bad(absl::StrCat("record ", Quote(name), " claims ", uncompressed, " bytes but holds ",
                              compressed));
    }
    if (method == kDeflated) {
      inflated += uncompressed;
      if (uncompressed > static_cast<uint64_t>(kMaxInflatedZipBytes) ||
          inflated > static_cast<uint64_t>(kMaxInflatedZipBytes)) {
        return bad(absl::StrCat("its compressed records would inflate to more than ",
                                kMaxInflatedZipBytes, " bytes"));
      }
    } else if (method != kStored) {
      return bad(absl::StrCat("record ", Quote(name), " uses zip method ", method));
    }
    // LibTorch (miniz) finds records ignoring case: "data.PKL" is its data.pkl.
    if (absl::EndsWithIgnoreCase(full_name, ".pkl") ||
        absl::EndsWithIgnoreCase(full_name, ".debug_pkl")) {
      if (uncompressed > static_cast<uint64_t>(kMaxPickleRecordBytes)) {
        return bad(absl::StrCat("record ", Quote(name), " is ", uncompressed,
                                " bytes; a pickle record is at most ", kMaxPickleRecordBytes));
      }
      // Deflate never takes much more room than the data: a record claiming otherwise would
      // have its compressed bytes read whole for nothing.
      if (method == kDeflated && compressed > uncompressed + uncompressed / 8 + 1024) {
        return bad(absl::StrCat("record ", Quote(name), " holds ", compressed,
                                " compressed bytes for ", uncompressed));
      }
      pickles.push_back({name, method, compressed, uncompressed, local_offset});
    }
  }
  // LibTorch unpickles (and frees) nested values by recursion: each pickle is measured first.
  for (const PickleRecord& record : pickles) {
    absl::StatusOr<std::string> bytes = ReadRecord(size, read_at, record.method, record.compressed,
                                                   record.uncompressed, record.local_offset);
    if (!bytes.ok())
      return bad(absl::StrCat("record ", Quote(record.name), ": ", bytes.status().message()));
    const int64_t depth = PickleNesting(*bytes);
    if (depth == kUnmeasurable) {
      return bad(absl::StrCat("record ", Quote(record.name),
                              " is not a pickle LibTorch reads (it does not end in a STOP that "
                              "every opcode before it leads to)"));
    }
    if (depth > kMaxPickleNesting) {
      return bad(absl::StrCat("record ", Quote(record.name), " nests its values more than ",
                              kMaxPickleNesting,
                              " deep (a model's submodules count two levels "
                              "each)"));
    }
  }
  if (top_level != nullptr) *top_level = std::move(top_level_names);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckZipRecords(absl::string_view archive, const std::string& field,
                             absl::string_view what, TopLevelRecords* top_level) {
  return Check(
      archive.size(),
      [&](uint64_t offset, size_t length, std::string* out) {
        if (offset > archive.size() || length > archive.size() - offset) return false;
        out->assign(archive.data() + offset, length);
        return true;
      },
      field, what, top_level);
}

absl::Status CheckZipFileRecords(const std::string& path, const std::string& field,
                                 absl::string_view what, TopLevelRecords* top_level) {
  std::ifstream in(path, std::ios::binary);
  // The caller found the file: failing to open it is this machine's trouble, not the file's
  // (and its path here is no business of whoever named it).
  if (!in) return absl::InternalError(absl::StrCat(field, ": the file cannot be opened"));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  return Check(
      size,
      [&](uint64_t offset, size_t length, std::string* out) {
        if (offset > size || length > size - offset) return false;
        out->resize(length);
        in.clear();
        in.seekg(static_cast<std::streamoff>(offset));
        return static_cast<bool>(in.read(out->data(), static_cast<std::streamsize>(length)));
      },
      field, what, top_level);
}

}  // namespace polytrain
