#include "worker/checkpoint_files.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

// A worker killed while it saved left a record without its checkpoint and a temporary file (probe
// BL: they stayed through three more attempts); they go, and every other file stays.
TEST_F(CheckpointFilesTest, ASavesLeftoversGo) {
  for (const char* name : {"ckpt-000000001300.pt.crc32", "ckpt-000000001400.pt.tmp"}) {
    std::ofstream(dir_ / name) << "x";
  }
  DeleteLeftoverCheckpointFiles(dir_.string());
  EXPECT_EQ(Left(), (std::vector<std::string>{"ckpt-000000000400.pt", "ckpt-000000000400.pt.crc32",
                                              "ckpt-000000000800.pt", "ckpt-000000000800.pt.crc32",
                                              "ckpt-000000001200.pt", "ckpt-000000001200.pt.crc32",
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

TEST_F(CheckpointFilesTest, IdleJobDirsGoButRunningOnesFreshOnesAndOtherEntriesStay) {
  const fs::path root = dir_ / "root";
  const auto two_days_ago = fs::file_time_type::clock::now() - std::chrono::hours(48);
  auto make_job = [&](const std::string& name, bool fresh_file) {
    fs::create_directories(root / name);
    std::ofstream(root / name / "ckpt-000000000400.pt") << "x";
    fs::last_write_time(root / name / "ckpt-000000000400.pt", two_days_ago);
    if (fresh_file) std::ofstream(root / name / "ckpt-000000000800.pt") << "x";
    fs::last_write_time(root / name, two_days_ago);
  };
  make_job("job-idle", false);
  make_job("job-running", false);
  make_job("job-written-today", true);
  fs::create_directories(root / "job-new");
  std::ofstream(root / "notes.txt") << "x";
  fs::last_write_time(root / "notes.txt", two_days_ago);
  make_job("../outside", false);  // reached only through a link in the root: left alone
  fs::create_directory_symlink(dir_ / "outside", root / "link");

  EXPECT_EQ(RemoveIdleJobDirs(root.string(), std::chrono::hours(24), {"job-running"}),
            (std::vector<std::string>{"job-idle"}));
  for (const char* kept : {"job-running", "job-written-today", "job-new", "notes.txt", "link"}) {
    EXPECT_TRUE(fs::exists(fs::symlink_status(root / kept))) << kept;
  }
  EXPECT_FALSE(fs::exists(root / "job-idle"));
  EXPECT_TRUE(fs::exists(dir_ / "outside" / "ckpt-000000000400.pt"));

  // With no idle time allowed every job dir not running goes at once; a missing root is no error.
  EXPECT_EQ(RemoveIdleJobDirs(root.string(), std::chrono::seconds(0), {"job-running"}),
            (std::vector<std::string>{"job-new", "job-written-today"}));
  EXPECT_TRUE(RemoveIdleJobDirs((dir_ / "missing").string(), std::chrono::seconds(0), {}).empty());
}

// A job's error names its checkpoints as the coordinator does, not by this worker's paths.
// An attempt's own directory is private and new each time; one left by a process that is gone
// (a worker killed mid-attempt) is removed, those of live processes and other entries stay.
TEST_F(CheckpointFilesTest, AttemptDirsArePrivateAndThoseOfGoneProcessesGo) {
  const std::string mine = MakeAttemptDir(dir_.string(), "job-a");
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(fs::status(mine).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_NE(MakeAttemptDir(dir_.string(), "job-a"), mine);
  const pid_t child = fork();  // a process that exits at once: its pid then names none
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const std::string orphan = "polytrain-attempt-job-b-p" + std::to_string(child) + "-Ab3dEf";
  fs::create_directories(dir_ / orphan);
  std::ofstream(dir_ / orphan / "ckpt-000000000001.pt") << "x";
  EXPECT_EQ(RemoveOrphanedAttemptDirs(dir_.string()), std::vector<std::string>{orphan});
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(dir_ / "notes.txt"));
  EXPECT_TRUE(RemoveOrphanedAttemptDirs(dir_.string()).empty());
}

TEST_F(CheckpointFilesTest, ErrorsLeaveTheWorkersDirectoriesOut) {
  EXPECT_EQ(WithoutCheckpointDirs("saving checkpoint /var/ckpt/job-1/ckpt-000000000080.pt: disk "
                                  "full; renaming /tmp/trial-job-1/ckpt-000000000080.pt.tmp",
                                  {"/tmp/trial-job-1", "/var/ckpt"}),
            "saving checkpoint job-1/ckpt-000000000080.pt: disk full; renaming "
            "ckpt-000000000080.pt.tmp");
  EXPECT_EQ(WithoutCheckpointDirs("no path here", {"", "/var/ckpt"}), "no path here");
  // A relative directory, given with a trailing '/': only where a path begins with it.
  EXPECT_EQ(WithoutCheckpointDirs("ckpt/job-1/a.pt and my_ckpt/job-1/b.pt, 'ckpt/c.pt'", {"ckpt/"}),
            "job-1/a.pt and my_ckpt/job-1/b.pt, 'c.pt'");
  // A match that starts inside the one just taken out is not another.
  EXPECT_EQ(WithoutCheckpointDirs("a/@a/@a/x.pt", {"a/@a"}), "@a/x.pt");
}

}  // namespace
}  // namespace polytrain
