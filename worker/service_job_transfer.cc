// ServiceJob, part: its transfers with the coordinator (the artifacts it names, its stored
// checkpoint, its last checkpoint's upload), each retried while the coordinator is away.
#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/artifacts.h"
#include "api/limits.h"
#include "common/chunked_file.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint.h"
#include "worker/service_job.h"

namespace polytrain {
namespace {

// Fetches the job's stored checkpoint into `dir`, unless it is there already (resumed here
// before). A damaged newest one is replaced by the newest older intact one the coordinator has.
absl::Status FetchCheckpoint(ArtifactClient& artifacts, const polytrain::v1::Job& job,
                             const std::string& dir) {
  const std::string name = job.checkpoint().substr(job.checkpoint().find('/') + 1);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (std::filesystem::exists(dir + "/" + name)) return absl::OkStatus();
  absl::StatusOr<ArtifactClient::Downloaded> fetched = artifacts.Download(
      job.checkpoint(), /*or_older_checkpoint=*/true, dir,
      [](const std::string& served) { return absl::StartsWith(served, kCheckpointPrefix); },
      [](const ArtifactClient::Downloaded& file) {
        return RecordCheckpointChecksum(file.path, file.checksum);
      });
  if (!fetched.ok()) return fetched.status();
  const std::string served = fetched->path.substr(fetched->path.find_last_of('/') + 1);
  if (served != name) {
    spdlog::warn("{}: {} is damaged; resuming from {}", job.id(), name, served);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ServiceJob::RetryWhileCoordinatorAway(const std::function<absl::Status()>& call) {
  // A cancel (or a drain) ends the retries at once: Cancel() and Release() wake the wait.
  return retry_.Run(job_.id(), call, [this] { return cancel_.load() || released_.load(); });
}

absl::Status ServiceJob::FetchArtifacts(std::map<std::string, std::string>* files,
                                        std::vector<ArtifactCache::Lease>* leases) {
  for (const NamedArtifact& named : ArtifactsNamedBy(job_.spec())) {
    if (context_.artifact_cache == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          named.field, ": this worker has no artifact cache (see its --artifact_cache_dir)"));
    }
    std::optional<ArtifactCache::Lease> lease;
    const absl::Status fetched = RetryWhileCoordinatorAway([&]() -> absl::Status {
      absl::StatusOr<ArtifactCache::Lease> acquired = context_.artifact_cache->Acquire(named.id);
      if (!acquired.ok()) return acquired.status();
      lease.emplace(*std::move(acquired));
      return absl::OkStatus();
    });
    if (!fetched.ok()) {
      // This worker's full disk is its own, not the job's: said where (probe CG).
      return absl::Status(
          fetched.code(),
          absl::StrCat(named.field, ": ", fetched.message(),
                       IsDiskFull(fetched) ? absl::StrCat(" (this worker's --artifact_cache_dir ",
                                                          context_.artifact_cache->dir(), ")")
                                           : ""));
    }
    (*files)[named.id] = lease->path();
    leases->push_back(*std::move(lease));
  }
  return absl::OkStatus();
}

absl::Status ServiceJob::FetchStoredCheckpoint(const std::string& dir) {
  // A job resumes from its checkpoint (a search trial from its rung's): it waits for a
  // coordinator that is away (restarting) rather than train from the start again.
  return RetryWhileCoordinatorAway(
      [this, &dir] { return FetchCheckpoint(*context_.artifacts, job_, dir); });
}

bool ServiceJob::UploadLastCheckpoint(const std::string& path, bool paused) {
  absl::Status s = RetryWhileCoordinatorAway([this, &path] {
    const absl::Status uploaded = context_.artifacts->Upload(job_.id(), job_.attempts(), path);
    // The coordinator's full disk may get room again: tried again as an outage is, so that a
    // job does not end without its model after a short spell (probe CG).
    return IsDiskFull(uploaded) ? absl::UnavailableError(uploaded.message()) : uploaded;
  });
  if (!s.ok()) {
    spdlog::warn("{}: uploading {}: {}{}", job_.id(), path, std::string(s.message()),
                 paused ? "; the trial will resume from an older checkpoint" : "");
  }
  return s.ok();
}

}  // namespace polytrain
