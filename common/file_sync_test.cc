#include "common/file_sync.h"

#include <string>

#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

using FileSyncTest = testing::ScratchDirTest;

TEST_F(FileSyncTest, SyncsAFileAndItsDirectory) {
  const std::string path = Write("model.pt", "weights");
  EXPECT_TRUE(SyncFile(path).ok());
  EXPECT_TRUE(SyncParentDirectory(path).ok());
  EXPECT_TRUE(SyncParentDirectory("bare-name-in-the-current-directory").ok());
}

TEST_F(FileSyncTest, AMissingFileOrDirectoryIsNamed) {
  const std::string missing = (dir_ / "missing.pt").string();
  const absl::Status file = SyncFile(missing);
  EXPECT_TRUE(absl::IsNotFound(file)) << file;
  EXPECT_EQ(file.message(), missing + ": no such file");
  const absl::Status directory = SyncParentDirectory((dir_ / "gone" / "model.pt").string());
  EXPECT_TRUE(absl::IsNotFound(directory)) << directory;
  EXPECT_EQ(directory.message(), (dir_ / "gone").string() + ": no such file");
}

TEST_F(FileSyncTest, AFileIsNotADirectory) {
  // The parent of "model.pt/x" is a file: opening it as a directory fails, and says why.
  const std::string path = Write("model.pt", "weights");
  const absl::Status status = SyncParentDirectory(path + "/x");
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_EQ(status.message(), path + ": cannot open to sync: Not a directory");
}

}  // namespace
}  // namespace polytrain
