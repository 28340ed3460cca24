#include "common/chunked_file.h"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

class ChunkedFileTest : public testing::ScratchDirTest {
 protected:
  static uint32_t ZlibCrc(const std::string& data) {
    return static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), data.size()));
  }
  std::vector<std::string> ReadAll(const std::string& path, size_t chunk_bytes) {
    auto reader = *ChunkedFileReader::Open(path, chunk_bytes);
    std::vector<std::string> chunks;
    bool last = false;
    while (!last) {
      chunks.emplace_back();
      EXPECT_TRUE(reader->Next(&chunks.back(), &last).ok());
    }
    EXPECT_EQ(reader->read().size, static_cast<int64_t>(fs::file_size(path)));
    return chunks;
  }
};

TEST_F(ChunkedFileTest, ReadsInChunksAndKnowsTheLastOne) {
  EXPECT_EQ(ReadAll(Write("a", "abcdefg"), 3), (std::vector<std::string>{"abc", "def", "g"}));
  // A file of whole chunks ends on a full chunk, not on an extra empty one.
  EXPECT_EQ(ReadAll(Write("b", "abcdef"), 3), (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(ReadAll(Write("c", ""), 3), (std::vector<std::string>{""}));
  const std::string data(100000, 'x');
  auto reader = *ChunkedFileReader::Open(Write("d", data), 4096);
  std::string chunk;
  bool last = false;
  while (!last) ASSERT_TRUE(reader->Next(&chunk, &last).ok());
  EXPECT_EQ(reader->read().crc32, ZlibCrc(data));
  EXPECT_EQ(ChunkedFileReader::Open((dir_ / "missing").string(), 3).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ChunkedFileTest, AWrittenFileAppearsOnlyWhenVerifiedAndCommitted) {
  const std::string target = (dir_ / "sub" / "file.bin").string();
  {
    auto writer = *ChunkedFileWriter::Create(target, 100);
    ASSERT_TRUE(writer->Append("hello ").ok());
    ASSERT_TRUE(writer->Append("world").ok());
    EXPECT_FALSE(fs::exists(target));
    EXPECT_EQ(writer->Verify("file", {11, ZlibCrc("hello world") ^ 1}).code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_TRUE(fs::is_empty(dir_ / "sub"));  // the temporary file went with the writer
  auto writer = *ChunkedFileWriter::Create(target, 100);
  ASSERT_TRUE(writer->Append("hello world").ok());
  EXPECT_EQ(writer->Commit().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(writer->Verify("file", {11, ZlibCrc("hello world")}).ok());
  ASSERT_TRUE(writer->Commit().ok());
  std::ifstream in(target, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "hello world");
}

// Two downloads to one file (two processes, or two writers here): each writes its own
// temporary file, and the second commit keeps what the first put in place.
TEST_F(ChunkedFileTest, TwoWritersOfOneFileNeverMixAndKeepRefusesToReplace) {
  const std::string target = (dir_ / "model.pt").string();
  auto first = *ChunkedFileWriter::Create(target, 100);
  auto second = *ChunkedFileWriter::Create(target, 100);
  // The pid in the name keeps other processes' writers apart; the random part, this one's.
  const std::string mine = absl::StrCat(target, ".upload-", getpid(), "-");
  EXPECT_TRUE(absl::StartsWith(first->temp_path(), mine)) << first->temp_path();
  EXPECT_TRUE(absl::StartsWith(second->temp_path(), mine)) << second->temp_path();
  EXPECT_NE(first->temp_path(), second->temp_path());
  ASSERT_TRUE(first->Append("first writer").ok());
  ASSERT_TRUE(second->Append("second").ok());
  ASSERT_TRUE(first->Verify("file", {12, ZlibCrc("first writer")}).ok());
  ASSERT_TRUE(second->Verify("file", {6, ZlibCrc("second")}).ok());
  ASSERT_TRUE(first->Commit(ChunkedFileWriter::Existing::kKeep).ok());
  const absl::Status refused = second->Commit(ChunkedFileWriter::Existing::kKeep);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(refused.message(),
            target + " exists (made while this was written); remove it or name another file");
  second.reset();  // its temporary file goes with it
  std::ifstream in(target, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "first writer");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ChunkedFileTest, ACommitReplacesByDefault) {
  const std::string target = (dir_ / "ckpt.pt").string();
  for (const std::string data : {"old", "new!"}) {
    auto writer = *ChunkedFileWriter::Create(target, 100);
    ASSERT_TRUE(writer->Append(data).ok());
    ASSERT_TRUE(writer->Verify("file", {static_cast<int64_t>(data.size()), ZlibCrc(data)}).ok());
    ASSERT_TRUE(writer->Commit().ok());
  }
  EXPECT_EQ(fs::file_size(target), 4u);
}

TEST_F(ChunkedFileTest, AFileThatCannotBeOpenedSaysWhy) {
  std::ofstream(dir_ / "plain") << "a file, not a directory";
  absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> writer =
      ChunkedFileWriter::Create((dir_ / "plain" / "f").string(), 100);
  ASSERT_FALSE(writer.ok());
  EXPECT_TRUE(
      absl::EndsWith(writer.status().message(), ": cannot open for writing: Not a directory"))
      << writer.status();
}

// A full disk is the receiver's to fix, not a bug: RESOURCE_EXHAUSTED (polyctl's exit 5).
TEST_F(ChunkedFileTest, AFullDiskIsSaidAsSuch) {
  const absl::Status full = WriteFailure("writing the received file failed", ENOSPC);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.message(),
            "writing the received file failed: the receiver's disk is full (No space left on "
            "device); nothing stored");
  EXPECT_EQ(WriteFailure("x", EDQUOT).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(WriteFailure("x", EIO).code(), absl::StatusCode::kInternal);
  // Told apart from a quota, which more time does not lift.
  EXPECT_TRUE(IsDiskFull(full));
  EXPECT_TRUE(
      IsDiskFull(absl::ResourceExhaustedError("sqlite: database or disk is full (the "
                                              "coordinator's --db disk is full)")));
  EXPECT_FALSE(IsDiskFull(WriteFailure("x", EIO)));
  EXPECT_FALSE(IsDiskFull(absl::ResourceExhaustedError("at most 4 uploads at once per caller")));
}

TEST_F(ChunkedFileTest, AVerifiedFileTakesNoMoreAndIsVerifiedOnce) {
  auto writer = *ChunkedFileWriter::Create((dir_ / "f").string(), 10);
  ASSERT_TRUE(writer->Append("abc").ok());
  ASSERT_TRUE(writer->Verify("file", {3, ZlibCrc("abc")}).ok());
  EXPECT_EQ(writer->Append("d").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(writer->Verify("file", {3, ZlibCrc("abc")}).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(fs::file_size(dir_ / "f"), 3u);
}

// Writeback starts every 8 MiB as it comes: a file of several such spans arrives whole.
TEST_F(ChunkedFileTest, ALargeFileArrivesWhole) {
  const std::string target = (dir_ / "large.bin").string();
  auto writer = *ChunkedFileWriter::Create(target, int64_t{64} << 20);
  std::string chunk(1 << 20, 'x');
  uint32_t crc = 0;
  for (int i = 0; i < 20; ++i) {
    chunk[0] = static_cast<char>('a' + i);
    ASSERT_TRUE(writer->Append(chunk).ok());
    crc = ExtendCrc32(crc, chunk);
  }
  ASSERT_TRUE(writer->Verify("file", {int64_t{20} << 20, crc}).ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(fs::file_size(target), uintmax_t{20} << 20);
}

TEST_F(ChunkedFileTest, ADownloadsTemporaryFileIsHiddenAndClearedOnceItsWriterIsGone) {
  const std::string target = (dir_ / "model.pt").string();
  auto writer = *ChunkedFileWriter::Create(target, 100, ChunkedFileWriter::TempName::kDownload);
  EXPECT_TRUE(absl::StartsWith(
      writer->temp_path(), (dir_ / absl::StrCat(".model.pt.download-", getpid(), "-")).string()))
      << writer->temp_path();
  // Left by killed downloads: one old, whose pid runs nothing (past Linux's largest pid), goes;
  // one written just now, one whose process runs (this one's) and another path's stay.
  const int gone_pid = 4194304 + 7;
  const fs::path abandoned = dir_ / absl::StrCat(".model.pt.download-", gone_pid, "-ff");
  const fs::path fresh = dir_ / absl::StrCat(".model.pt.download-", gone_pid, "-aa");
  const fs::path other = dir_ / absl::StrCat(".other.pt.download-", gone_pid, "-cc");
  // A download to "model.pt.download-<gone pid>-x": its own temporary name starts alike.
  const fs::path longer =
      dir_ / absl::StrCat(".model.pt.download-", gone_pid, "-x.download-", getpid(), "-dd");
  for (const fs::path& leftover : {abandoned, fresh, other, longer}) {
    std::ofstream(leftover) << "part";
  }
  for (const fs::path& old : {abandoned, other, longer, fs::path(writer->temp_path())}) {
    fs::last_write_time(old, fs::file_time_type::clock::now() - std::chrono::hours(1));
  }
  EXPECT_EQ(ChunkedFileWriter::RemoveAbandonedDownloads(target), 1);
  EXPECT_FALSE(fs::exists(abandoned));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(longer));
  EXPECT_TRUE(fs::exists(writer->temp_path()));
}

TEST_F(ChunkedFileTest, AWriterRefusesMoreThanItsLimit) {
  auto writer = *ChunkedFileWriter::Create((dir_ / "f").string(), 10);
  ASSERT_TRUE(writer->Append(std::string(10, 'x')).ok());  // the limit itself
  EXPECT_EQ(writer->Append("y").message(), "data: a file is at most 10 bytes here");
}

}  // namespace
}  // namespace polytrain
