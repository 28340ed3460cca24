// The worker's copies of users' artifacts (models, datasets a job names by "sha256:<hex>"),
// fetched from the coordinator once and kept in a directory of files named by their hash. Every
// use checks the copy against its hash first: a copy damaged on disk is fetched again, and a
// fetched file that does not hash to its name is never used. The directory is bounded: when a
// fetch takes it past `max_bytes`, the least recently used copies that no job holds go first
// (a copy in use stays even past the bound, so one file larger than the bound still runs), and
// when a fetch finds the disk full, every copy no job holds goes before it is tried again.
#ifndef POLYTRAIN_WORKER_ARTIFACT_CACHE_H_
#define POLYTRAIN_WORKER_ARTIFACT_CACHE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace polytrain {

class ArtifactCache {
 public:
  // Fetches the artifact `id` into `dir` as the file named by its hex digest (and nothing else
  // there); its error is the job's.
  using Fetch = std::function<absl::Status(const std::string& id, const std::string& dir)>;

  // Adopts the copies already in `dir` (created at the first fetch) (most recently used last, by
  // their modification times), so a restarted worker keeps its cache; removes what a fetch cut
  // short left (*.upload-*) and leaves any other file alone. INVALID_ARGUMENT when `dir` is a
  // file.
  static absl::StatusOr<std::unique_ptr<ArtifactCache>> Open(const std::string& dir,
                                                             int64_t max_bytes, Fetch fetch);

  // A copy in use: not evicted until every lease on it is gone.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    const std::string& path() const { return path_; }

   private:
    friend class ArtifactCache;
    Lease(ArtifactCache* cache, std::string hex, std::string path);
    ArtifactCache* cache_;
    std::string hex_;
    std::string path_;
  };

  // The directory it keeps its copies in (--artifact_cache_dir).
  const std::string& dir() const { return dir_; }
  // The checked local copy of `id` ("sha256:<hex>"), fetched first when there is none or the one
  // there is damaged. DATA_LOSS when what the coordinator sent does not hash to `id`.
  absl::StatusOr<Lease> Acquire(const std::string& id);

  int64_t bytes() const;
  int64_t max_bytes() const { return max_bytes_; }
  // Fetches done since Open (for tests and the log).
  int64_t fetches() const;

 private:
  struct Entry {
    int64_t size = 0;
    uint64_t last_use = 0;  // a counter: larger is more recent
    int leases = 0;
  };

  ArtifactCache(std::string dir, int64_t max_bytes, Fetch fetch)
      : dir_(std::move(dir)), max_bytes_(max_bytes), fetch_(std::move(fetch)) {}
  void Release(const std::string& hex);
  // Removes unleased copies, least recently used first, until the cache fits its bound.
  void EvictLocked();
  // Removes every unleased copy (the disk is full); returns how many went.
  int EvictUnused();
  void RemoveLocked(std::string hex);  // by value: callers pass a key of entries_

  const std::string dir_;
  const int64_t max_bytes_;
  const Fetch fetch_;
  mutable std::mutex mu_;                 // never held through a fetch or a hash
  std::condition_variable changed_;       // a fetch ended
  std::set<std::string> fetching_;        // hex digests being fetched, under mu_
  std::map<std::string, Entry> entries_;  // by hex digest, under mu_
  int64_t bytes_ = 0;
  uint64_t clock_ = 0;
  int64_t fetches_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_ARTIFACT_CACHE_H_
