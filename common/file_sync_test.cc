#include "common/file_sync.h"

#include <filesystem>
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

}  // namespace
}  // namespace polytrain
