#include "common/zip_records.h"

#include <string>
#include <vector>

#include "common/pickle_nesting.h"
#include "gtest/gtest.h"
#include "zlib.h"

namespace polytrain {
namespace {

// A minimal zip archive writer for the test: each record's method and declared sizes are set
// by hand, as a crafted file would set them.
struct Record {
  std::string name;
  std::string data;
  uint16_t method = 0;
  uint64_t declared_size = 0;  // the uncompressed size the directory claims
};

void Put(std::string* out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(value >> (8 * i) & 0xff));
}

std::string Archive(const std::vector<Record>& records, bool zip64 = false) {
  std::string file, directory;
  for (const Record& r : records) {
    const uint64_t offset = file.size();
    Put(&file, 0x04034b50, 4);
    Put(&file, 20, 2);
    Put(&file, 0, 2);
    Put(&file, r.method, 2);
    Put(&file, 0, 4);  // time, date
    Put(&file, 0, 4);  // crc (not checked here)
    Put(&file, r.data.size(), 4);
    Put(&file, r.declared_size, 4);
    Put(&file, r.name.size(), 2);
    Put(&file, 0, 2);
    file += r.name + r.data;
    Put(&directory, 0x02014b50, 4);
    Put(&directory, 20, 2);
    Put(&directory, 20, 2);
    Put(&directory, 0, 2);
    Put(&directory, r.method, 2);
    Put(&directory, 0, 4);
    Put(&directory, 0, 4);
    Put(&directory, zip64 ? 0xffffffff : r.data.size(), 4);
    Put(&directory, zip64 ? 0xffffffff : r.declared_size, 4);
    Put(&directory, r.name.size(), 2);
    Put(&directory, zip64 ? 28 : 0, 2);  // extra
    Put(&directory, 0, 2);               // comment
    Put(&directory, 0, 2);
    Put(&directory, 0, 2);
    Put(&directory, 0, 4);
    Put(&directory, zip64 ? 0xffffffff : offset, 4);
    directory += r.name;
    if (zip64) {
      Put(&directory, 1, 2);
      Put(&directory, 16 + 8, 2);
      Put(&directory, r.declared_size, 8);
      Put(&directory, r.data.size(), 8);
      Put(&directory, offset, 8);
    }
  }
  const uint64_t directory_offset = file.size();
  file += directory;
  Put(&file, 0x06054b50, 4);
  Put(&file, 0, 4);
  Put(&file, records.size(), 2);
  Put(&file, records.size(), 2);
  Put(&file, directory.size(), 4);
  Put(&file, directory_offset, 4);
  Put(&file, 0, 2);
  return file;
}

TEST(ZipRecordsTest, StoredRecordsOfTheirDeclaredSizeAndSmallCompressedOnesPass) {
  EXPECT_TRUE(CheckZipRecords(Archive({{"archive/data.pkl", "\x80\x02N.", 0, 4},
                                       {"archive/code/x.py", "zz", 8, 4096}}),
                              "f", "not a zip")
                  .ok());
  EXPECT_TRUE(
      CheckZipRecords(Archive({{"archive/data/0", "abcd", 0, 4}}, /*zip64=*/true), "f", "not a zip")
          .ok());
}

TEST(ZipRecordsTest, ABombOrALyingDirectoryIsRefusedBeforeAnythingIsInflated) {
  EXPECT_EQ(
      CheckZipRecords(Archive({{"archive/data/0", "tiny", 8, uint64_t{1} << 30}}), "f", "not a zip")
          .message(),
      "f: not a zip: its compressed records would "
      "inflate to more than 67108864 bytes");
  EXPECT_EQ(CheckZipRecords(Archive({{"archive/data/0", "tiny", 8, uint64_t{1} << 30}}, true), "f",
                            "not a zip")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckZipRecords(Archive({{"archive/data/0", "abcd", 0, 4000000}}), "f", "not a zip")
                .message(),
            "f: not a zip: record 'archive/data/0' claims "
            "4000000 bytes but holds 4");
  EXPECT_EQ(CheckZipRecords(Archive({{"a", "abcd", 12, 4}}), "f", "not a zip").message(),
            "f: not a zip: record 'a' uses zip method 12");
  // A directory that claims the whole file is refused before it is read.
  std::string whole = Archive({{"a", std::string(300000, 'x'), 0, 300000}});
  const size_t end = whole.size() - 22;
  std::string patched;
  Put(&patched, end, 4);  // the directory's size: everything before its end record
  Put(&patched, 0, 4);    // from the first byte
  whole.replace(end + 12, 8, patched);
  EXPECT_EQ(
      CheckZipRecords(whole, "f", "not a zip").message(),
      "f: not a zip: its zip directory claims " + std::to_string(end) + " bytes for 1 records");
  // Many small compressed records add up.
  std::vector<Record> many(100, Record{"code", "z", 8, 1 << 20});
  EXPECT_EQ(CheckZipRecords(Archive(many), "f", "not a zip").code(),
            absl::StatusCode::kInvalidArgument);
}

// Raw deflate, as zip method 8 holds it.
std::string Deflated(const std::string& data) {
  std::string out(compressBound(static_cast<uLong>(data.size())) + 64, '\0');
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// A list nested `depth` deep, as protocol 2 writes it.
std::string NestedList(int depth) {
  std::string pickle("\x80\x02", 2);
  for (int i = 1; i < depth; ++i) pickle += "](";
  return pickle + "]" + std::string(depth - 1, 'e') + ".";
}

// LibTorch unpickles nested values by recursion: a pickle record nesting past the limit (a
// 400 kB file 200,000 deep ended a worker) is refused, stored or deflated, before LibTorch reads
// it; one at the limit passes.
TEST(ZipRecordsTest, APickleNestedTooDeepIsRefused) {
  const std::string at_limit = NestedList(kMaxPickleNesting);
  EXPECT_TRUE(
      CheckZipRecords(Archive({{"a/data.pkl", at_limit, 0, at_limit.size()}}), "f", "x").ok());
  const std::string deep = NestedList(200000);
  EXPECT_EQ(CheckZipRecords(Archive({{"a/data.pkl", deep, 0, deep.size()}}), "f", "x").message(),
            "f: x: record 'a/data.pkl' nests its values more than 1000 deep (a model's "
            "submodules count two levels each)");
  // LibTorch finds records ignoring case.
  EXPECT_FALSE(CheckZipRecords(Archive({{"a/data.PKL", deep, 0, deep.size()}}), "f", "x").ok());
  // One that is no pickle LibTorch reads to its end.
  EXPECT_EQ(CheckZipRecords(Archive({{"a/data.pkl", "abc", 0, 3}}), "f", "x").message(),
            "f: x: record 'a/data.pkl' is not a pickle LibTorch reads (it does not end in a STOP "
            "that every opcode before it leads to)");
  const std::string one_more = NestedList(kMaxPickleNesting + 1);
  EXPECT_FALSE(
      CheckZipRecords(Archive({{"a/data.pkl", one_more, 0, one_more.size()}}), "f", "x").ok());
  EXPECT_EQ(CheckZipRecords(Archive({{"a/code/m.py.debug_pkl", Deflated(deep), 8, deep.size()}}),
                            "f", "x")
                .message(),
            "f: x: record 'a/code/m.py.debug_pkl' nests its values more than 1000 deep (a "
            "model's submodules count two levels each)");
  // A deflated pickle that is not what it claims, and one too large to measure.
  EXPECT_EQ(
      CheckZipRecords(Archive({{"a/constants.pkl", "not deflate", 8, 40}}), "f", "x").message(),
      "f: x: record 'a/constants.pkl': does not inflate to the 40 bytes it claims");
  EXPECT_EQ(CheckZipRecords(Archive({{"a/data.pkl", "", 8, (16 << 20) + 1}}), "f", "x").message(),
            "f: x: record 'a/data.pkl' is 16777217 bytes; a pickle record is at most 16777216");
}

TEST(ZipRecordsTest, WhatIsNotAZipArchiveIsRefused) {
  EXPECT_EQ(CheckZipRecords("", "f", "not a zip").message(),
            "f: not a zip: too short for a zip archive");
  EXPECT_EQ(CheckZipRecords(std::string(100, 'x'), "f", "not a zip").message(),
            "f: not a zip: no zip directory");
  std::string cut = Archive({{"a", "abcd", 0, 4}});
  cut.erase(10, 20);  // the directory now points past its records
  EXPECT_EQ(CheckZipRecords(cut, "f", "not a zip").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckZipFileRecords("/nonexistent/file.pt", "f", "not a zip").message(),
            "f: the file cannot be opened");
}

}  // namespace
}  // namespace polytrain
