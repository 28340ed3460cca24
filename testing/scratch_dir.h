// A test fixture with a fresh directory of its own under gtest's TempDir (named after the test
// and the process, removed afterwards), and a way to write files into it.
#ifndef POLYTRAIN_TESTING_SCRATCH_DIR_H_
#define POLYTRAIN_TESTING_SCRATCH_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace polytrain::testing {

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string(test->test_suite_name()) + "_" + test->name() + "_" +
            std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to dir_/name (replacing it) and returns its path.
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << content;
    return (dir_ / name).string();
  }

  std::filesystem::path dir_;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_SCRATCH_DIR_H_
