#include "worker/artifact_cache.h"

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "common/chunked_file.h"
#include "common/sha256.h"
#include "gtest/gtest.h"
#include "testing/log_capture.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

// A coordinator's artifacts in memory: fetch writes the bytes stored under an id (which a test
// may make lie about its hash), into a directory on a disk of disk_bytes_ when that is set.
class ArtifactCacheTest : public testing::ScratchDirTest {
 protected:
  std::string Store(const std::string& content) {
    const std::string id = ArtifactIdOfHex(Sha256Hex(content));
    served_[id] = content;
    return id;
  }
  ArtifactCache::Fetch Fetch() {
    return [this](const std::string& id, const std::string& dir) -> absl::Status {
      std::lock_guard<std::mutex> lock(mu_);  // fetches may run on several threads
      ++fetched_[id];
      auto it = served_.find(id);
      if (it == served_.end()) return absl::NotFoundError(absl::StrCat("path: no artifact ", id));
      int64_t used = 0;
      for (const auto& file : fs::directory_iterator(dir)) used += fs::file_size(file.path());
      if (disk_bytes_ >= 0 && used + static_cast<int64_t>(it->second.size()) > disk_bytes_) {
        return absl::ResourceExhaustedError(
            "writing the received file failed: the receiver's disk is full (No space left on "
            "device)");
      }
      std::ofstream(fs::path(dir) / ArtifactHex(id), std::ios::binary) << it->second;
      return absl::OkStatus();
    };
  }
  std::unique_ptr<ArtifactCache> Open(int64_t max_bytes) {
    absl::StatusOr<std::unique_ptr<ArtifactCache>> cache =
        ArtifactCache::Open((dir_ / "cache").string(), max_bytes, Fetch());
    EXPECT_TRUE(cache.ok()) << cache.status();
    return *std::move(cache);
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::mutex mu_;
  std::map<std::string, std::string> served_;
  std::map<std::string, int> fetched_;
  int64_t disk_bytes_ = -1;  // no bound
};

TEST_F(ArtifactCacheTest, FetchesOnceAndServesTheCheckedCopyAfter) {
  const std::string id = Store("model bytes");
  std::unique_ptr<ArtifactCache> cache = Open(1000);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<ArtifactCache::Lease> lease = cache->Acquire(id);
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_EQ(Read(lease->path()), "model bytes");
  }
  EXPECT_EQ(fetched_[id], 1);
  EXPECT_EQ(cache->bytes(), 11);
}

TEST_F(ArtifactCacheTest, ADamagedCopyIsFetchedAgain) {
  const std::string id = Store("the true content");
  std::unique_ptr<ArtifactCache> cache = Open(1000);
  std::string path;
  {
    absl::StatusOr<ArtifactCache::Lease> lease = cache->Acquire(id);
    ASSERT_TRUE(lease.ok());
    path = lease->path();
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "the true contenT";
  absl::StatusOr<ArtifactCache::Lease> again = cache->Acquire(id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Read(again->path()), "the true content");
  EXPECT_EQ(fetched_[id], 2);
}

TEST_F(ArtifactCacheTest, WhatDoesNotHashToItsIdIsNeverUsed) {
  const std::string id = Store("honest");
  served_[id] = "tampered";
  std::unique_ptr<ArtifactCache> cache = Open(1000);
  absl::StatusOr<ArtifactCache::Lease> lease = cache->Acquire(id);
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(lease.status().message().find("hashes to sha256:" + Sha256Hex("tampered")),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "cache" / ArtifactHex(id)));
  EXPECT_EQ(cache->bytes(), 0);
  // A fetch error is passed on as it is.
  EXPECT_EQ(cache->Acquire(ArtifactIdOfHex(std::string(64, '0'))).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(cache->Acquire("sha256:short").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ArtifactCacheTest, LeastRecentlyUsedGoesFirstAndCopiesInUseStay) {
  const std::string a = Store(std::string(40, 'a'));
  const std::string b = Store(std::string(40, 'b'));
  const std::string c = Store(std::string(40, 'c'));
  std::unique_ptr<ArtifactCache> cache = Open(100);  // room for two
  { ASSERT_TRUE(cache->Acquire(a).ok()); }
  { ASSERT_TRUE(cache->Acquire(b).ok()); }
  { ASSERT_TRUE(cache->Acquire(a).ok()); }  // a is now more recent than b
  { ASSERT_TRUE(cache->Acquire(c).ok()); }  // b goes
  EXPECT_EQ(cache->bytes(), 80);
  EXPECT_TRUE(fs::exists(dir_ / "cache" / ArtifactHex(a)));
  EXPECT_FALSE(fs::exists(dir_ / "cache" / ArtifactHex(b)));

  // All three held at once: over the bound while in use, back under it once released.
  absl::StatusOr<ArtifactCache::Lease> la = cache->Acquire(a);
  absl::StatusOr<ArtifactCache::Lease> lb = cache->Acquire(b);
  absl::StatusOr<ArtifactCache::Lease> lc = cache->Acquire(c);
  ASSERT_TRUE(la.ok() && lb.ok() && lc.ok());
  EXPECT_EQ(cache->bytes(), 120);
  EXPECT_TRUE(fs::exists(la->path()) && fs::exists(lb->path()) && fs::exists(lc->path()));
  la = absl::InternalError("released");
  EXPECT_EQ(cache->bytes(), 80);
  EXPECT_FALSE(fs::exists(dir_ / "cache" / ArtifactHex(a)));
  EXPECT_EQ(fetched_[b], 2);
}

// A disk that fills before the cache's bound (other files share it): the copies no job holds
// make room and the fetch is tried again; with every copy in use, the job gets the disk's error.
TEST_F(ArtifactCacheTest, ADiskFullBeforeTheBoundEvictsTheCopiesNoJobHolds) {
  const std::string a = Store(std::string(40, 'a'));
  const std::string b = Store(std::string(40, 'b'));
  const std::string c = Store(std::string(40, 'c'));
  disk_bytes_ = 100;
  std::unique_ptr<ArtifactCache> cache = Open(1000);
  {
    absl::StatusOr<ArtifactCache::Lease> held = cache->Acquire(a);
    ASSERT_TRUE(held.ok());
    { ASSERT_TRUE(cache->Acquire(b).ok()); }
    const absl::StatusOr<ArtifactCache::Lease> lc = cache->Acquire(c);  // b makes room
    ASSERT_TRUE(lc.ok()) << lc.status();
    EXPECT_EQ(fetched_[c], 2);
    EXPECT_TRUE(fs::exists(held->path()));
    EXPECT_FALSE(fs::exists(dir_ / "cache" / ArtifactHex(b)));
    // a and c in use: nothing to evict, and b's fetch fails with the disk's error.
    const absl::Status full = cache->Acquire(b).status();
    EXPECT_TRUE(IsDiskFull(full)) << full;
    EXPECT_EQ(fetched_[b], 2);
    EXPECT_TRUE(fs::exists(held->path()) && fs::exists(lc->path()));
  }
  EXPECT_EQ(cache->bytes(), 80);
}

TEST_F(ArtifactCacheTest, AFileLargerThanTheBoundRunsThenGoes) {
  const std::string big = Store(std::string(500, 'x'));
  std::unique_ptr<ArtifactCache> cache = Open(100);
  {
    absl::StatusOr<ArtifactCache::Lease> lease = cache->Acquire(big);
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(Read(lease->path()).size(), 500u);
  }
  EXPECT_EQ(cache->bytes(), 0);
}

TEST_F(ArtifactCacheTest, ARestartedWorkerKeepsItsCopiesAndDropsPartialOnes) {
  const std::string id = Store("kept across restarts");
  {
    std::unique_ptr<ArtifactCache> cache = Open(1000);
    ASSERT_TRUE(cache->Acquire(id).ok());
  }
  const std::string partial = ArtifactHex(Store("another")) + ".upload-3";
  std::ofstream(dir_ / "cache" / partial) << "half";
  std::ofstream(dir_ / "cache" / "notes.txt") << "someone else's file";
  std::unique_ptr<ArtifactCache> reopened;
  std::string log;
  {
    testing::ScopedLogCapture capture;
    reopened = Open(1000);
    log = capture.text();
  }
  EXPECT_NE(log.find("removed 1 fetch(es) that a stop cut short"), std::string::npos) << log;
  EXPECT_EQ(reopened->bytes(), 20);
  EXPECT_FALSE(fs::exists(dir_ / "cache" / partial));
  EXPECT_TRUE(fs::exists(dir_ / "cache" / "notes.txt"));  // not ours: never removed
  ASSERT_TRUE(reopened->Acquire(id).ok());
  EXPECT_EQ(fetched_[id], 1);
}

TEST_F(ArtifactCacheTest, TheDirectoryIsMadeAtTheFirstFetchAndMustNotBeAFile) {
  const std::string id = Store("first");
  std::unique_ptr<ArtifactCache> cache = Open(1000);
  EXPECT_FALSE(fs::exists(dir_ / "cache"));  // a worker that never fetches leaves nothing
  ASSERT_TRUE(cache->Acquire(id).ok());
  EXPECT_TRUE(fs::is_directory(dir_ / "cache"));

  std::ofstream(dir_ / "a-file") << "x";
  absl::StatusOr<std::unique_ptr<ArtifactCache>> on_file =
      ArtifactCache::Open((dir_ / "a-file").string(), 1000, Fetch());
  EXPECT_EQ(on_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(on_file.status().message(),
            "--artifact_cache_dir " + (dir_ / "a-file").string() + ": not a directory");
}

TEST_F(ArtifactCacheTest, AFetchDoesNotHoldUpOtherFiles) {
  const std::string slow = Store("slow to arrive");
  const std::string quick = Store("already here");
  std::unique_ptr<ArtifactCache> cache;
  std::promise<void> fetch_started;
  std::promise<void> release_fetch;
  std::shared_future<void> released = release_fetch.get_future().share();
  ArtifactCache::Fetch inner = Fetch();
  absl::StatusOr<std::unique_ptr<ArtifactCache>> opened =
      ArtifactCache::Open((dir_ / "cache").string(), 1000,
                          [&, released](const std::string& id, const std::string& dir) {
                            if (id == slow) {
                              fetch_started.set_value();
                              released.wait();
                            }
                            return inner(id, dir);
                          });
  ASSERT_TRUE(opened.ok());
  cache = *std::move(opened);
  std::thread slow_job([&] { EXPECT_TRUE(cache->Acquire(slow).ok()); });
  fetch_started.get_future().wait();
  // While the slow fetch is in flight, another file is fetched and served.
  EXPECT_TRUE(cache->Acquire(quick).ok());
  release_fetch.set_value();
  slow_job.join();
  EXPECT_EQ(fetched_[slow], 1);
  EXPECT_EQ(fetched_[quick], 1);
}

}  // namespace
}  // namespace polytrain
