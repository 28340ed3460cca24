#include "worker/checkpoint_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

class CheckpointFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("checkpoint_files_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* name :
         {"ckpt-000000000400.pt", "ckpt-000000000400.pt.crc32", "ckpt-000000000800.pt",
          "ckpt-000000000800.pt.crc32", "ckpt-000000001200.pt", "ckpt-000000001200.pt.crc32",
          "ckpt-000000001600.pt.corrupt", "notes.txt"}) {
      std::ofstream(dir_ / name) << "x";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Left() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

TEST_F(CheckpointFilesTest, CheckpointsAfterTheStoredOneGoWithTheirRecords) {
  EXPECT_EQ(DeleteCheckpointsAfter(dir_.string(), "job-0123456789ab/ckpt-000000000400.pt"),
            (std::vector<std::string>{"ckpt-000000000800.pt", "ckpt-000000001200.pt"}));
  EXPECT_EQ(Left(), (std::vector<std::string>{"ckpt-000000000400.pt", "ckpt-000000000400.pt.crc32",
                                              "ckpt-000000001600.pt.corrupt", "notes.txt"}));
}

TEST_F(CheckpointFilesTest, WithNoStoredCheckpointEveryOneGoes) {
  EXPECT_EQ(DeleteCheckpointsAfter(dir_.string(), "").size(), 3u);
  EXPECT_EQ(Left(), (std::vector<std::string>{"ckpt-000000001600.pt.corrupt", "notes.txt"}));
}

TEST_F(CheckpointFilesTest, TheNewestStoredKeepsEverything) {
  EXPECT_TRUE(DeleteCheckpointsAfter(dir_.string(), "ckpt-000000001200.pt").empty());
  EXPECT_TRUE(DeleteCheckpointsAfter((dir_ / "missing").string(), "").empty());
}

}  // namespace
}  // namespace polytrain
