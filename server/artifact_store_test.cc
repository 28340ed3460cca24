#include "server/artifact_store.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

uint32_t Crc(const std::string& data) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("artifacts_" + std::to_string(getpid()));
    fs::remove_all(root_);
    store_ = *ArtifactStore::Open(root_.string());
  }
  void TearDown() override { fs::remove_all(root_); }
  size_t FilesIn(const fs::path& dir) {
    size_t n = 0;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::end(it); ++it) {
      n += it->is_regular_file();
    }
    return n;
  }
  fs::path root_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, ChunksBecomeOneFileOnCommit) {
  auto upload = *store_->Begin("job-1", "ckpt-000000000010.pt");
  ASSERT_TRUE(upload->Append("hello ").ok());
  ASSERT_TRUE(upload->Append("world").ok());
  EXPECT_EQ(FilesIn(root_), 1u);  // only the temporary file so far
  EXPECT_FALSE(fs::exists(root_ / "job-1" / "ckpt-000000000010.pt"));
  absl::StatusOr<std::string> path = upload->Commit(11, Crc("hello world"));
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, "job-1/ckpt-000000000010.pt");
  std::ifstream in(root_ / *path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "hello world");
  upload.reset();
  EXPECT_EQ(FilesIn(root_), 1u);
}

TEST_F(ArtifactStoreTest, AMismatchOrAnAbandonedUploadLeavesNothing) {
  auto corrupt = *store_->Begin("job-1", "ckpt.pt");
  ASSERT_TRUE(corrupt->Append("hello").ok());
  const absl::Status status = corrupt->Commit(5, Crc("hellO")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  corrupt.reset();
  auto short_size = *store_->Begin("job-1", "ckpt.pt");
  ASSERT_TRUE(short_size->Append("hello").ok());
  EXPECT_EQ(short_size->Commit(6, Crc("hello")).status().code(), absl::StatusCode::kDataLoss);
  short_size.reset();
  {
    auto abandoned = *store_->Begin("job-1", "other.pt");
    ASSERT_TRUE(abandoned->Append("partial").ok());
  }
  EXPECT_EQ(FilesIn(root_), 0u);
}

TEST_F(ArtifactStoreTest, FindReturnsOnlyStoredFilesUnderTheRoot) {
  auto upload = *store_->Begin("job-1", "ckpt.pt");
  ASSERT_TRUE(upload->Append("x").ok());
  ASSERT_TRUE(upload->Commit(1, Crc("x")).ok());
  EXPECT_EQ(*store_->Find("job-1/ckpt.pt"), (root_ / "job-1" / "ckpt.pt").string());
  EXPECT_EQ(store_->Find("job-1/other.pt").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Find("job-1/../../etc/passwd").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Find("ckpt.pt").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ArtifactStoreTest, NamesMustBePlainFileNames) {
  EXPECT_EQ(store_->Begin("job-1", "../escape").status().message(),
            "name: not a file name: '../escape'");
  EXPECT_EQ(store_->Begin("..", "x").status().message(), "job_id: not a file name: '..'");
  EXPECT_EQ(store_->Begin("job-1", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Begin("job/1", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polytrain
