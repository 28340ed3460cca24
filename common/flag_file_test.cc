#include "common/flag_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
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

TEST_F(FlagFileTest, AWrittenFileIsWholeAndAFailureNamesTheFlagAndLeavesNothing) {
  const std::string path = (dir_ / "port").string();
  ASSERT_TRUE(WriteFlagFile("--port_file", path, "50051\n").ok());
  ASSERT_TRUE(WriteFlagFile("--port_file", path, "7\n").ok());  // replaced whole
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "7\n");
  const std::string missing = (dir_ / "nodir" / "port").string();
  absl::Status status = WriteFlagFile("--port_file", missing, "1\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "--port_file " + missing + ": cannot write: No such file or directory");
  status = WriteFlagFile("--metrics_port_file", dir_.string(), "1\n");
  EXPECT_EQ(status.message(),
            "--metrics_port_file " + dir_.string() + ": cannot write: is a directory");
  EXPECT_TRUE(CheckFlagFileWritable("--port_file", path).ok());
  EXPECT_EQ(CheckFlagFileWritable("--port_file", missing).message(),
            "--port_file " + missing + ": cannot write: No such file or directory");
  EXPECT_EQ(CheckFlagFileWritable("--metrics_port_file", dir_.string()).message(),
            "--metrics_port_file " + dir_.string() + ": cannot write: is a directory");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);  // the port file; no temporary left
}

}  // namespace
}  // namespace polytrain
