#include "worker/artifact_cache.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "common/chunked_file.h"
#include "common/sha256.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

bool IsHexDigest(const std::string& name) {
  return ValidateArtifactId("", ArtifactIdOfHex(name)).ok();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactCache>> ArtifactCache::Open(const std::string& dir,
                                                                   int64_t max_bytes, Fetch fetch) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--artifact_cache_dir ", dir, ": not a directory"));
  }
  std::unique_ptr<ArtifactCache> cache(new ArtifactCache(dir, max_bytes, std::move(fetch)));
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  int unfinished = 0;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(error)) continue;
    if (absl::StrContains(name, ".upload-")) {
      if (fs::remove(entry.path(), error)) ++unfinished;  // a fetch that never finished
      continue;
    }
    if (!IsHexDigest(name)) continue;  // not ours: left alone, and not counted
    found.emplace_back(entry.last_write_time(error), name);
  }
  if (unfinished > 0) {
    spdlog::info("--artifact_cache_dir {}: removed {} fetch(es) that a stop cut short", dir,
                 unfinished);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [time, hex] : found) {
    Entry& entry = cache->entries_[hex];
    entry.size = static_cast<int64_t>(fs::file_size(fs::path(dir) / hex, error));
    entry.last_use = ++cache->clock_;
    cache->bytes_ += entry.size;
  }
  std::lock_guard<std::mutex> lock(cache->mu_);
  cache->EvictLocked();
  return cache;
}

absl::StatusOr<ArtifactCache::Lease> ArtifactCache::Acquire(const std::string& id) {
  if (absl::Status s = ValidateArtifactId("artifact", id); !s.ok()) return s;
  const std::string hex = ArtifactHex(id);
  const std::string path = (fs::path(dir_) / hex).string();
  std::unique_lock<std::mutex> lock(mu_);
  // One fetch per file at a time; fetches of other files and every other call go on meanwhile.
  changed_.wait(lock, [&] { return fetching_.count(hex) == 0; });
  if (entries_.count(hex) != 0) {
    Entry& entry = entries_[hex];
    ++entry.leases;  // pinned while its hash is checked outside the lock
    lock.unlock();
    absl::StatusOr<std::string> digest = Sha256HexOfFile(path);
    lock.lock();
    if (digest.ok() && *digest == hex) {
      entries_[hex].last_use = ++clock_;
      std::error_code error;
      fs::last_write_time(path, fs::file_time_type::clock::now(), error);
      return Lease(this, hex, path);
    }
    spdlog::warn("artifact cache: the copy of {} is damaged; fetching it again", id);
    if (--entries_[hex].leases > 0) {
      return absl::DataLossError(
          absl::StrCat("artifact ", id, ": the cached copy is damaged while another job uses it"));
    }
    RemoveLocked(hex);
  }
  fetching_.insert(hex);
  ++fetches_;
  lock.unlock();
  std::error_code error;
  fs::create_directories(dir_, error);  // made at the first fetch: no empty directory otherwise
  absl::Status fetched = error ? absl::FailedPreconditionError(absl::StrCat(
                                     "--artifact_cache_dir ", dir_, ": ", error.message()))
                               : fetch_(id, dir_);
  // A disk full before the cache reached its bound (other files share it): the copies no job
  // holds make room, and the fetch is tried once more.
  if (IsDiskFull(fetched) && EvictUnused() > 0) fetched = fetch_(id, dir_);
  absl::StatusOr<std::string> digest =
      fetched.ok() ? Sha256HexOfFile(path) : absl::StatusOr<std::string>(fetched);
  if (digest.ok() && *digest != hex) {
    fs::remove(path, error);
    digest = absl::DataLossError(
        absl::StrCat("artifact ", id, ": what the coordinator sent hashes to sha256:", *digest));
  }
  lock.lock();
  fetching_.erase(hex);
  changed_.notify_all();
  if (!digest.ok()) return digest.status();
  Entry& entry = entries_[hex];
  entry.size = static_cast<int64_t>(fs::file_size(path, error));
  spdlog::info("artifact cache: fetched {} ({} bytes)", id, entry.size);
  entry.last_use = ++clock_;
  entry.leases = 1;
  bytes_ += entry.size;
  EvictLocked();
  return Lease(this, hex, path);
}

void ArtifactCache::Release(const std::string& hex) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(hex);
  if (it != entries_.end() && it->second.leases > 0) --it->second.leases;
  EvictLocked();
}

int ArtifactCache::EvictUnused() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> unused;
  for (const auto& [hex, entry] : entries_) {
    if (entry.leases == 0) unused.push_back(hex);
  }
  for (const std::string& hex : unused) {
    spdlog::info("artifact cache: the disk is full; evicting sha256:{} ({} bytes)", hex,
                 entries_[hex].size);
    RemoveLocked(hex);
  }
  return static_cast<int>(unused.size());
}

void ArtifactCache::EvictLocked() {
  while (bytes_ > max_bytes_) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.leases == 0 &&
          (oldest == entries_.end() || it->second.last_use < oldest->second.last_use)) {
        oldest = it;
      }
    }
    if (oldest == entries_.end()) return;  // everything left is in use
    spdlog::info("artifact cache: evicting sha256:{} ({} bytes)", oldest->first,
                 oldest->second.size);
    RemoveLocked(oldest->first);
  }
}

void ArtifactCache::RemoveLocked(std::string hex) {
  auto it = entries_.find(hex);
  if (it == entries_.end()) return;
  bytes_ -= it->second.size;
  entries_.erase(it);
  std::error_code error;
  fs::remove(fs::path(dir_) / hex, error);
}

int64_t ArtifactCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

int64_t ArtifactCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

ArtifactCache::Lease::Lease(ArtifactCache* cache, std::string hex, std::string path)
    : cache_(cache), hex_(std::move(hex)), path_(std::move(path)) {}

ArtifactCache::Lease::Lease(Lease&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      hex_(std::move(other.hex_)),
      path_(std::move(other.path_)) {}

ArtifactCache::Lease::~Lease() {
  if (cache_ != nullptr) cache_->Release(hex_);
}

}  // namespace polytrain
