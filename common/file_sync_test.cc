#include "common/file_sync.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

using FileSyncTest = testing::ScratchDirTest;

TEST_F(FileSyncTest, SyncsAFile) {
  const std::string path = Write("model.pt", "weights");
  EXPECT_TRUE(SyncFile(path).ok());
  // A directory sync is best effort (the file is in place already): it returns nothing to
  // handle, for a bare name too.
  SyncParentDirectory(path);
  SyncParentDirectory("bare-name-in-the-current-directory");
}

TEST_F(FileSyncTest, AMissingFileIsNamed) {
  const std::string missing = (dir_ / "missing.pt").string();
  const absl::Status file = SyncFile(missing);
  EXPECT_TRUE(absl::IsNotFound(file)) << file;
  EXPECT_EQ(file.message(), missing + ": no such file");
  const std::string in_a_file = Write("model.pt", "weights") + "/x";
  const absl::Status not_a_directory = SyncFile(in_a_file);
  EXPECT_TRUE(absl::IsInternal(not_a_directory)) << not_a_directory;
  EXPECT_EQ(not_a_directory.message(), in_a_file + ": cannot open: Not a directory");
}

TEST_F(FileSyncTest, CreatesEveryMissingLevel) {
  const std::filesystem::path deep = dir_ / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirectoriesDurably(deep.string() + "/").ok());
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  EXPECT_TRUE(CreateDirectoriesDurably(deep.string()).ok());  // there already
  const std::string blocked = Write("plain", "a file") + "/sub";
  const absl::Status status = CreateDirectoriesDurably(blocked);
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), blocked + ": ")) << status;
}

TEST_F(FileSyncTest, AFileIsReplacedWholeAndAFailureLeavesNothing) {
  const std::string path = (dir_ / "record").string();
  ASSERT_TRUE(ReplaceFileWhole(path, "first\n", /*durable=*/true).ok());
  ASSERT_TRUE(ReplaceFileWhole(path, "2\n", /*durable=*/false).ok());
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "2\n");
  const absl::Status status =
      ReplaceFileWhole((dir_ / "nodir" / "record").string(), "x", /*durable=*/true);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "No such file or directory");  // the caller names the file
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);  // the record; no temporary left
}

TEST_F(FileSyncTest, APendingReplacementChangesNothingUntilReplacedAndLeavesNothingDropped) {
  const std::string path = (dir_ / "record").string();
  ASSERT_TRUE(ReplaceFileWhole(path, "old\n", /*durable=*/true).ok());
  const auto content = [&path] {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto entries = [this] {
    int n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++n;
    return n;
  };
  {
    absl::StatusOr<std::unique_ptr<PendingReplacement>> dropped =
        PendingReplacement::Write(path, "dropped\n");
    ASSERT_TRUE(dropped.ok()) << dropped.status();
    EXPECT_EQ(content(), "old\n");
    EXPECT_EQ(entries(), 2);  // the record and the pending one
  }
  EXPECT_EQ(entries(), 1);
  absl::StatusOr<std::unique_ptr<PendingReplacement>> pending =
      PendingReplacement::Write(path, "new\n");
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_TRUE((*pending)->Replace().ok());
  EXPECT_EQ(content(), "new\n");
  EXPECT_EQ((*pending)->Replace().code(), absl::StatusCode::kFailedPrecondition);
  pending->reset();
  EXPECT_EQ(content(), "new\n");
  EXPECT_EQ(entries(), 1);
  EXPECT_EQ(PendingReplacement::Write((dir_ / "nodir" / "record").string(), "x").status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace polytrain
