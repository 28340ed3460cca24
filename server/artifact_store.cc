#include "server/artifact_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/file_checksum.h"
#include "common/file_sync.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

constexpr char kChecksumDir[] = ".checksums";

fs::path ChecksumPath(const fs::path& file) {
  return file.parent_path() / kChecksumDir / file.filename();
}

// "The receiver's disk" is the coordinator's --artifacts directory's: said so, as a full --db
// disk is.
absl::Status NamingTheDisk(absl::Status status) {
  if (!absl::IsResourceExhausted(status)) return status;
  return absl::ResourceExhaustedError(absl::StrReplaceAll(
      status.message(), {{"the receiver's disk", "the coordinator's --artifacts disk"}}));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const std::string& root) {
  std::error_code error;
  if (fs::exists(root, error) && !fs::is_directory(root, error)) {
    return absl::InvalidArgumentError(absl::StrCat("--artifacts ", root, ": not a directory"));
  }
  fs::create_directory(root, error);  // its parent exists (CoordinatorCore checked)
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat("--artifacts ", root, ": ", error.message()));
  }
  // Every upload writes here: a directory this process cannot write to is refused now, not at
  // the first upload.
  const fs::path probe = fs::path(root) / absl::StrCat(".write-check-", getpid());
  if (FILE* file = std::fopen(probe.c_str(), "wb"); file != nullptr) {
    std::fclose(file);
    fs::remove(probe, error);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--artifacts ", root, ": cannot write there: ", std::strerror(errno)));
  }
  // Every directory the store writes in (the uploads', each job's, their checksum records) is
  // written in by later calls too: one this process cannot write in is refused now as well.
  // Others (a volume's lost+found) are none of the store's business.
  auto writable = [&root](const fs::path& dir) -> absl::Status {
    if (access(dir.c_str(), W_OK | X_OK) == 0) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("--artifacts ", root, ": cannot write in ",
                                                   dir.string(), ": ", std::strerror(errno)));
  };
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    std::error_code kind;
    if (!it->is_directory(kind) ||
        !ValidateArtifactName("dir", it->path().filename().string()).ok()) {
      continue;
    }
    POLYTRAIN_RETURN_IF_ERROR(writable(it->path()));
    if (fs::is_directory(it->path() / kChecksumDir, kind)) {
      POLYTRAIN_RETURN_IF_ERROR(writable(it->path() / kChecksumDir));
    }
  }
  // Uploads that a crash cut short left their temporary files (nothing is in flight yet).
  int removed = 0;
  uintmax_t removed_bytes = 0;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    std::error_code kind;
    if (it->is_regular_file(kind) &&
        absl::StrContains(it->path().filename().string(), kUploadMarker)) {
      std::error_code size_error;
      const uintmax_t bytes = it->file_size(size_error);
      if (fs::remove(it->path(), kind)) {
        ++removed;
        removed_bytes += size_error ? 0 : bytes;
      }
    }
  }
  if (removed > 0) {
    spdlog::info("{}: removed {} unfinished upload(s), {} bytes, that a stop cut short", root,
                 removed, removed_bytes);
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(root));
}

absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> ArtifactStore::Begin(
    const std::string& job_id, const std::string& name) {
  if (absl::Status s = ValidateArtifactName("job_id", job_id); !s.ok()) return s;
  if (absl::Status s = ValidateArtifactName("name", name); !s.ok()) return s;
  const fs::path dir = fs::path(root_) / job_id;
  // Synced into their parents: a file stored in them is reachable after a power loss.
  POLYTRAIN_RETURN_IF_ERROR(CreateDirectoriesDurably((dir / kChecksumDir).string()));
  absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> file =
      ChunkedFileWriter::Create((dir / name).string(), kMaxArtifactBytes);
  if (!file.ok()) return file.status();
  return std::unique_ptr<Upload>(new Upload(job_id + "/" + name, *std::move(file)));
}

absl::StatusOr<std::string> ArtifactStore::Find(const std::string& relative) const {
  POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactPath("path", relative));
  const fs::path path = fs::path(root_) / relative;
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("path: no artifact ", relative));
  }
  return path.string();
}

absl::StatusOr<IntactArtifact> ArtifactStore::FindIntact(const std::string& relative) const {
  absl::StatusOr<std::string> path = Find(relative);
  if (!path.ok()) return path.status();
  absl::StatusOr<FileChecksum> checksum =
      VerifyAgainstRecord(absl::StrCat("artifact ", relative), *path, ChecksumPath(*path).string());
  if (!checksum.ok()) return checksum.status();
  IntactArtifact intact;
  intact.relative = relative;
  intact.name = relative.substr(relative.find('/') + 1);
  intact.path = *path;
  intact.size = checksum->size;
  intact.crc32 = checksum->crc32;
  return intact;
}

absl::StatusOr<IntactArtifact> ArtifactStore::FindIntactOrOlder(
    const std::string& relative, const std::string& prefix,
    std::vector<std::string>* passed_over) const {
  absl::StatusOr<IntactArtifact> requested = FindIntact(relative);
  if (requested.ok() || requested.status().code() == absl::StatusCode::kInvalidArgument) {
    return requested;
  }
  passed_over->push_back(std::string(requested.status().message()));
  const std::string job_id = relative.substr(0, relative.find('/'));
  const std::string name = relative.substr(relative.find('/') + 1);
  // The older ones stored: their files, and the records of files since gone (removed by hand),
  // which are passed over and said to be missing, not skipped without a word.
  std::set<std::string> older;
  std::error_code error;
  for (const fs::path& dir : {fs::path(root_) / job_id, fs::path(root_) / job_id / kChecksumDir}) {
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      const std::string candidate = entry.path().filename().string();
      std::error_code kind;
      // Only names a worker may upload (a record's leftover temporary file is none).
      if (entry.is_regular_file(kind) && absl::StartsWith(candidate, prefix) && candidate < name &&
          !absl::StrContains(candidate, kUploadMarker) &&
          ValidateUploadedName("name", candidate).ok()) {
        older.insert(candidate);
      }
    }
  }
  for (auto it = older.rbegin(); it != older.rend(); ++it) {  // newest first
    const std::string candidate = job_id + "/" + *it;
    absl::StatusOr<IntactArtifact> intact = FindIntact(candidate);
    if (intact.ok()) return intact;
    passed_over->push_back(absl::IsNotFound(intact.status())
                               ? absl::StrCat("artifact ", candidate,
                                              ": its file is missing (its checksum record is "
                                              "there)")
                               : std::string(intact.status().message()));
  }
  return requested.status();
}

size_t ArtifactStore::PruneOlder(const std::string& job_id, const std::string& prefix, size_t keep,
                                 const std::string& spared, const std::string& also_kept) const {
  if (!ValidateArtifactName("job_id", job_id).ok()) return 0;
  const fs::path dir = fs::path(root_) / job_id;
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && absl::StartsWith(name, prefix) && name != spared &&
        !absl::StrContains(name, kUploadMarker)) {
      names.push_back(name);
    }
  }
  if (!spared.empty() && keep > 0) --keep;  // the spared one counts among those kept
  if (names.size() <= keep) return 0;
  std::sort(names.begin(), names.end());
  size_t removed = 0;
  for (size_t i = 0; i + keep < names.size(); ++i) {
    if (names[i] == also_kept) continue;  // older than those kept, kept beside them
    fs::remove(dir / names[i], error);
    fs::remove(ChecksumPath(dir / names[i]), error);
    ++removed;
  }
  return removed;
}

absl::Status ArtifactStore::Remove(const std::string& relative) const {
  POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactPath("path", relative));
  const fs::path path = fs::path(root_) / relative;
  std::error_code error;
  fs::remove(path, error);
  if (error) return absl::InternalError(absl::StrCat(path.string(), ": ", error.message()));
  fs::remove(ChecksumPath(path), error);
  return absl::OkStatus();
}

int ArtifactStore::RemoveJob(const std::string& job_id) const {
  // The users' directory is not a job's (job ids never take its name, but say so here too).
  if (!ValidateArtifactName("job_id", job_id).ok() || job_id == kUserArtifactDir) return 0;
  const fs::path directory = fs::path(root_) / job_id;
  std::error_code error;
  std::vector<fs::path> files;  // its checksums are in a directory of their own
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) files.push_back(it->path());
  }
  // Counted as they go: a file that stays (an immutable file, a read-only mount) is not said
  // to be deleted.
  int removed = 0;
  std::string failure;
  for (const fs::path& file : files) {
    std::error_code removal;
    if (fs::remove(file, removal)) {
      ++removed;
    } else if (removal && failure.empty()) {
      failure = absl::StrCat(file.filename().string(), ": ", removal.message());
    }
  }
  fs::remove_all(directory, error);
  if (!failure.empty() || error) {
    spdlog::warn("{}: {} of {} files removed ({}); remove the rest by hand", directory.string(),
                 removed, files.size(), failure.empty() ? error.message() : failure);
  }
  return removed;
}

std::vector<std::string> ArtifactStore::JobDirectories() const {
  std::vector<std::string> ids;
  std::error_code error;
  for (fs::directory_iterator it(root_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory(error) && name != kUserArtifactDir &&
        ValidateArtifactName("job_id", name).ok()) {
      ids.push_back(name);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

ArtifactStore::Upload::Upload(std::string relative, std::unique_ptr<ChunkedFileWriter> file)
    : relative_(std::move(relative)), file_(std::move(file)) {}

absl::Status ArtifactStore::Upload::Append(const std::string& data) {
  return NamingTheDisk(file_->Append(data));
}

absl::Status ArtifactStore::Upload::Verify(int64_t size, uint32_t crc32_value) {
  POLYTRAIN_RETURN_IF_ERROR(
      file_->Verify(absl::StrCat("artifact ", relative_), {size, crc32_value}));
  absl::StatusOr<std::unique_ptr<PendingReplacement>> record = PendingReplacement::Write(
      ChecksumPath(file_->final_path()).string(), ChecksumRecordText(file_->written()));
  if (!record.ok()) {
    return absl::InternalError(absl::StrCat(
        "artifact ", relative_, ": cannot write its checksum record: ", record.status().message()));
  }
  record_ = *std::move(record);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArtifactStore::Upload::Commit(int64_t size, uint32_t crc32_value) {
  POLYTRAIN_RETURN_IF_ERROR(Verify(size, crc32_value));
  absl::StatusOr<std::string> path = Publish();
  if (path.ok()) SyncPublished();
  return path;
}

absl::StatusOr<std::string> ArtifactStore::Upload::Publish() {
  if (record_ == nullptr) return absl::FailedPreconditionError("publish before verify");
  // The record first, so that a file in place always has one (a crash between the two leaves
  // a record without a file, which is as good as nothing stored).
  // Two uploads of one name (two attempts) must not pair one's record with the other's file.
  static std::mutex commit_mu;
  std::lock_guard<std::mutex> lock(commit_mu);
  if (absl::Status s = record_->Replace(); !s.ok()) {
    return absl::InternalError(absl::StrCat(
        "artifact ", relative_, ": cannot put its checksum record in place: ", s.message()));
  }
  POLYTRAIN_RETURN_IF_ERROR(NamingTheDisk(file_->Commit(ChunkedFileWriter::Existing::kReplace,
                                                        /*sync_directory=*/false)));
  return relative_;
}

void ArtifactStore::Upload::SyncPublished() {
  SyncParentDirectory(record_->path());
  SyncParentDirectory(file_->final_path());
}

}  // namespace polytrain
