#include "server/artifact_store.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "testing/log_capture.h"

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

TEST_F(ArtifactStoreTest, OpeningRemovesWhatACrashedUploadLeft) {
  fs::create_directories(root_ / "sha256");
  std::ofstream(root_ / "sha256" / "abc.upload-7") << "half an upload";
  std::ofstream(root_ / "sha256" / "kept") << "a stored file";
  std::string log;  // said, so that an operator knows where the space went
  {
    testing::ScopedLogCapture capture;
    store_ = *ArtifactStore::Open(root_.string());
    log = capture.text();
  }
  EXPECT_NE(log.find("removed 1 unfinished upload(s), 14 bytes, that a stop cut short"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(root_ / "sha256" / "abc.upload-7"));
  EXPECT_TRUE(fs::exists(root_ / "sha256" / "kept"));
}

TEST_F(ArtifactStoreTest, AFileIsNotADirectory) {
  store_.reset();
  fs::remove_all(root_);
  std::ofstream(root_) << "a file";
  EXPECT_EQ(ArtifactStore::Open(root_.string()).status().message(),
            "--artifacts " + root_.string() + ": not a directory");
  fs::remove(root_);
}

// What the coordinator compares with its jobs at start-up (strays are warned of, never removed).
TEST_F(ArtifactStoreTest, JobDirectoriesAreTheJobsOnly) {
  for (const char* dir : {"job-b", "job-a", "sha256", ".checksums"}) {
    fs::create_directories(root_ / dir);
  }
  std::ofstream(root_ / "job-file") << "not a directory";
  EXPECT_EQ(store_->JobDirectories(), (std::vector<std::string>{"job-a", "job-b"}));
  const auto upload = *store_->Begin("job-a", "ckpt-000000000010.pt");
  ASSERT_TRUE(upload->Append("x").ok());
  ASSERT_TRUE(upload->Commit(1, Crc("x")).ok());
  EXPECT_EQ(store_->RemoveJob("job-a"), 1);  // the files that went, their records not counted
  EXPECT_FALSE(fs::exists(root_ / "job-a"));
}

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
  EXPECT_EQ(FilesIn(root_), 2u);  // the file and its recorded size and CRC-32
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
  EXPECT_EQ(store_->Begin("..", "x").status().message(),
            "job_id: not a file name: '..' (it starts with '.')");
  EXPECT_EQ(store_->Begin("job-1", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Begin("job/1", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Begin("job-1", ".checksums").status().message(),
            "name: not a file name: '.checksums' (it starts with '.')");
  EXPECT_TRUE(store_->Begin("job-1", std::string(128, 'a')).ok());
  EXPECT_EQ(store_->Begin("job-1", std::string(129, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class StoredCheckpointsTest : public ArtifactStoreTest {
 protected:
  void Store(const std::string& name, const std::string& content) {
    auto upload = *store_->Begin("job-1", name);
    ASSERT_TRUE(upload->Append(content).ok());
    ASSERT_TRUE(upload->Commit(static_cast<int64_t>(content.size()), Crc(content)).ok());
  }
  // Damages a stored file in place, as a failing disk or a stray write would.
  void Damage(const std::string& name, const std::string& content) {
    std::ofstream(root_ / "job-1" / name, std::ios::binary | std::ios::trunc) << content;
  }
};

TEST_F(StoredCheckpointsTest, RemovingAJobTakesAllItsFilesAndNothingElse) {
  Store("ckpt-000000000010.pt", "10");
  Store("ckpt-000000000020.pt", "20");
  auto other = *store_->Begin("job-2", "ckpt-000000000010.pt");
  ASSERT_TRUE(other->Append("x").ok());
  ASSERT_TRUE(other->Commit(1, Crc("x")).ok());
  EXPECT_EQ(store_->RemoveJob("job-1"), 2);  // the files, not their checksum records
  EXPECT_FALSE(fs::exists(root_ / "job-1"));
  EXPECT_TRUE(store_->FindIntact("job-2/ckpt-000000000010.pt").ok());
  EXPECT_EQ(store_->RemoveJob("job-1"), 0);   // gone already
  EXPECT_EQ(store_->RemoveJob(".."), 0);      // never outside a job's own directory
  EXPECT_EQ(store_->RemoveJob("sha256"), 0);  // users' artifacts are not a job's
  EXPECT_TRUE(fs::exists(root_));
}

TEST_F(StoredCheckpointsTest, PruningKeepsTheNewestAndOtherFiles) {
  for (const char* step : {"10", "20", "30", "40"}) {
    Store(std::string("ckpt-0000000000") + step + ".pt", step);
  }
  Store("other.bin", "not a checkpoint");
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3), 1u);
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3), 0u);  // at the bound: nothing
  EXPECT_EQ(store_->Find("job-1/ckpt-000000000010.pt").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(root_ / "job-1" / ".checksums" / "ckpt-000000000010.pt"));
  for (const char* kept :
       {"ckpt-000000000020.pt", "ckpt-000000000030.pt", "ckpt-000000000040.pt", "other.bin"}) {
    EXPECT_TRUE(store_->FindIntact(std::string("job-1/") + kept).ok()) << kept;
  }
  EXPECT_EQ(store_->PruneOlder("../x", kCheckpointPrefix, 0), 0u);

  // An attempt that started over stores an older name than its predecessor's newest: it is
  // spared (counted among the 3 kept), the oldest of the others goes.
  Store("ckpt-000000000005.pt", "5");
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3, "ckpt-000000000005.pt"), 1u);
  EXPECT_TRUE(store_->FindIntact("job-1/ckpt-000000000005.pt").ok());
  EXPECT_TRUE(store_->FindIntact("job-1/ckpt-000000000040.pt").ok());
  EXPECT_TRUE(store_->FindIntact("job-1/ckpt-000000000030.pt").ok());
  EXPECT_FALSE(store_->FindIntact("job-1/ckpt-000000000020.pt").ok());
}

TEST_F(StoredCheckpointsTest, TheBestIsKeptBesideTheNewestOnlyWhereItIsOlder) {
  for (const char* step : {"10", "20", "30", "40", "50"}) {
    Store(std::string("ckpt-0000000000") + step + ".pt", step);
  }
  // Among the newest three: it counts among them (20 and 10 go).
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3, "ckpt-000000000050.pt",
                               "ckpt-000000000040.pt"),
            2u);
  EXPECT_FALSE(store_->FindIntact("job-1/ckpt-000000000020.pt").ok());
  // Older: kept beside them (30 stays a best, 40 goes).
  Store("ckpt-000000000060.pt", "60");
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3, "ckpt-000000000060.pt",
                               "ckpt-000000000030.pt"),
            0u);
  Store("ckpt-000000000070.pt", "70");
  EXPECT_EQ(store_->PruneOlder("job-1", kCheckpointPrefix, 3, "ckpt-000000000070.pt",
                               "ckpt-000000000030.pt"),
            1u);
  for (const char* kept : {"30", "50", "60", "70"}) {
    EXPECT_TRUE(store_->FindIntact(std::string("job-1/ckpt-0000000000") + kept + ".pt").ok())
        << kept;
  }
  EXPECT_FALSE(store_->FindIntact("job-1/ckpt-000000000040.pt").ok());
}

TEST_F(StoredCheckpointsTest, AFileThatNoLongerMatchesItsRecordIsNotIntact) {
  Store("ckpt-000000000010.pt", "ten");
  absl::StatusOr<IntactArtifact> intact = store_->FindIntact("job-1/ckpt-000000000010.pt");
  ASSERT_TRUE(intact.ok()) << intact.status();
  EXPECT_EQ(intact->name, "ckpt-000000000010.pt");
  EXPECT_EQ(intact->size, 3);
  EXPECT_EQ(intact->crc32, Crc("ten"));

  Damage("ckpt-000000000010.pt", "tEn");  // same size, one bit off
  EXPECT_EQ(store_->FindIntact("job-1/ckpt-000000000010.pt").status().code(),
            absl::StatusCode::kDataLoss);
  Damage("ckpt-000000000010.pt", "te");  // truncated
  EXPECT_EQ(store_->FindIntact("job-1/ckpt-000000000010.pt").status().code(),
            absl::StatusCode::kDataLoss);
  fs::remove(root_ / "job-1" / ".checksums" / "ckpt-000000000010.pt");
  EXPECT_EQ(store_->FindIntact("job-1/ckpt-000000000010.pt").status().message(),
            "artifact job-1/ckpt-000000000010.pt: no checksum recorded");
}

TEST_F(StoredCheckpointsTest, ACorruptCheckpointFallsBackToTheNewestOlderIntactOne) {
  Store("ckpt-000000000010.pt", "ten");
  Store("ckpt-000000000020.pt", "twenty");
  Store("ckpt-000000000030.pt", "thirty");
  Store("ckpt-000000000040.pt", "forty");
  Store("other.bin", "not a checkpoint");
  Damage("ckpt-000000000040.pt", "FORTY");
  Damage("ckpt-000000000030.pt", "");
  std::vector<std::string> passed_over;
  absl::StatusOr<IntactArtifact> chosen =
      store_->FindIntactOrOlder("job-1/ckpt-000000000040.pt", kCheckpointPrefix, &passed_over);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->relative, "job-1/ckpt-000000000020.pt");
  ASSERT_EQ(passed_over.size(), 2u);
  EXPECT_NE(passed_over[0].find("ckpt-000000000040.pt"), std::string::npos);
  EXPECT_NE(passed_over[1].find("ckpt-000000000030.pt"), std::string::npos);
  // One whose file was removed by hand (its record stays) is passed over and said missing.
  fs::remove(root_ / "job-1" / "ckpt-000000000030.pt");
  passed_over.clear();
  chosen = store_->FindIntactOrOlder("job-1/ckpt-000000000040.pt", kCheckpointPrefix, &passed_over);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->relative, "job-1/ckpt-000000000020.pt");
  ASSERT_EQ(passed_over.size(), 2u);
  EXPECT_EQ(passed_over[1],
            "artifact job-1/ckpt-000000000030.pt: its file is missing (its checksum record is "
            "there)");

  // Never a newer one, and an intact request is served as is.
  passed_over.clear();
  EXPECT_EQ(store_->FindIntactOrOlder("job-1/ckpt-000000000020.pt", kCheckpointPrefix, &passed_over)
                ->relative,
            "job-1/ckpt-000000000020.pt");
  EXPECT_TRUE(passed_over.empty());
  // A missing one falls back too; with nothing intact left, the request's own error comes back.
  EXPECT_EQ(store_->FindIntactOrOlder("job-1/ckpt-000000000025.pt", kCheckpointPrefix, &passed_over)
                ->relative,
            "job-1/ckpt-000000000020.pt");
  Damage("ckpt-000000000020.pt", "x");
  Damage("ckpt-000000000010.pt", "x");
  EXPECT_EQ(store_->FindIntactOrOlder("job-1/ckpt-000000000040.pt", kCheckpointPrefix, &passed_over)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      store_->FindIntactOrOlder("job-1/../x", kCheckpointPrefix, &passed_over).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polytrain
