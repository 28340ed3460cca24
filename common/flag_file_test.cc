#include "common/flag_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FlagFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("flag_file_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FlagFileTest, AFileUpToTheLimitIsReadWhole) {
  const std::string path = (dir_ / "token").string();
  std::ofstream(path) << std::string(1024, 'x');
  absl::StatusOr<std::string> text = ReadFlagFile("--token_file", path, 1024);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->size(), 1024u);
  EXPECT_THAT(ReadFlagFile("--token_file", path, 1023).status().message(),
              HasSubstr("--token_file " + path + ": larger than"));
}

TEST_F(FlagFileTest, AMissingFileIsNotFoundNamingTheFlag) {
  const absl::Status status = ReadFlagFile("--tls_ca", (dir_ / "none.pem").string(), 1024).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(),
              HasSubstr("--tls_ca " + (dir_ / "none.pem").string() + ": no such file"));
}

TEST_F(FlagFileTest, ADirectoryOrAFifoIsRefusedWithoutBlocking) {
  EXPECT_THAT(ReadFlagFile("--tokens", dir_.string(), 1024).status().message(),
              HasSubstr("is a directory"));
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const absl::Status status = ReadFlagFile("--tokens", fifo, 1024).status();  // would block
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--tokens " + fifo + ": not a regular file"));
  EXPECT_THAT(ReadFlagFile("--token_file", "/dev/zero", 1024).status().message(),
              HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace polytrain
