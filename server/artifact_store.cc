#include "server/artifact_store.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_checksum.h"
#include "common/validation.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

constexpr char kChecksumDir[] = ".checksums";

// A single path component of [A-Za-z0-9._-], not starting with '.' (so never "." or "..", nor
// the checksum directory).
absl::Status CheckComponent(absl::string_view field, const std::string& value) {
  if (value.empty() || value.size() > 128 || value[0] == '.') {
    return InvalidField(field, absl::StrCat("not a file name: '", value, "'"));
  }
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return InvalidField(field, absl::StrCat("not a file name: '", value, "'"));
  }
  return absl::OkStatus();
}

fs::path ChecksumPath(const fs::path& file) {
  return file.parent_path() / kChecksumDir / file.filename();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const std::string& root) {
  std::error_code error;
  fs::create_directories(root, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat("--artifacts ", root, ": ", error.message()));
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(root));
}

absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> ArtifactStore::Begin(
    const std::string& job_id, const std::string& name) {
  if (absl::Status s = CheckComponent("job_id", job_id); !s.ok()) return s;
  if (absl::Status s = CheckComponent("name", name); !s.ok()) return s;
  const fs::path dir = fs::path(root_) / job_id;
  std::error_code error;
  fs::create_directories(dir / kChecksumDir, error);
  if (error) return absl::InternalError(absl::StrCat(dir.string(), ": ", error.message()));
  std::unique_ptr<Upload> upload(new Upload(job_id + "/" + name, (dir / name).string()));
  if (!upload->out_) {
    return absl::InternalError(absl::StrCat(upload->temp_path_, ": cannot open for writing"));
  }
  return upload;
}

absl::StatusOr<std::string> ArtifactStore::Find(const std::string& relative) const {
  const size_t slash = relative.find('/');
  if (slash == std::string::npos) {
    return InvalidField("path", absl::StrCat("expected <job_id>/<name>, got '", relative, "'"));
  }
  if (absl::Status s = CheckComponent("path", relative.substr(0, slash)); !s.ok()) return s;
  if (absl::Status s = CheckComponent("path", relative.substr(slash + 1)); !s.ok()) return s;
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
  std::vector<std::string> older;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(root_) / job_id, error)) {
    const std::string candidate = entry.path().filename().string();
    if (entry.is_regular_file() && absl::StartsWith(candidate, prefix) && candidate < name &&
        !absl::StrContains(candidate, ".upload-")) {
      older.push_back(candidate);
    }
  }
  std::sort(older.rbegin(), older.rend());  // newest first
  for (const std::string& candidate : older) {
    absl::StatusOr<IntactArtifact> intact = FindIntact(job_id + "/" + candidate);
    if (intact.ok()) return intact;
    passed_over->push_back(std::string(intact.status().message()));
  }
  return requested.status();
}

size_t ArtifactStore::PruneOlder(const std::string& job_id, const std::string& prefix,
                                 size_t keep) const {
  if (!CheckComponent("job_id", job_id).ok()) return 0;
  const fs::path dir = fs::path(root_) / job_id;
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && absl::StartsWith(name, prefix) &&
        !absl::StrContains(name, ".upload-")) {
      names.push_back(name);
    }
  }
  if (names.size() <= keep) return 0;
  std::sort(names.begin(), names.end());
  const size_t removed = names.size() - keep;
  for (size_t i = 0; i < removed; ++i) {
    fs::remove(dir / names[i], error);
    fs::remove(ChecksumPath(dir / names[i]), error);
  }
  return removed;
}

ArtifactStore::Upload::Upload(std::string relative, std::string final_path)
    : relative_(std::move(relative)), final_path_(std::move(final_path)) {
  static std::atomic<int64_t> counter{0};
  temp_path_ = absl::StrCat(final_path_, ".upload-", counter++);
  out_.open(temp_path_, std::ios::binary | std::ios::trunc);
  crc_ = crc32(0L, Z_NULL, 0);
}

ArtifactStore::Upload::~Upload() {
  if (!committed_) {
    out_.close();
    std::error_code error;
    fs::remove(temp_path_, error);
  }
}

absl::Status ArtifactStore::Upload::Append(const std::string& data) {
  if (written_ + static_cast<int64_t>(data.size()) > kMaxArtifactBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: artifacts are at most ", kMaxArtifactBytes, " bytes"));
  }
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out_) return absl::InternalError(absl::StrCat(temp_path_, ": write failed"));
  crc_ = crc32(crc_, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  written_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArtifactStore::Upload::Commit(int64_t size, uint32_t crc32_value) {
  out_.flush();
  out_.close();
  if (size != written_ || crc32_value != crc_) {
    return absl::DataLossError(absl::StrCat("artifact ", relative_, ": received ", written_,
                                            " bytes with CRC-32 ", crc_, ", the sender says ", size,
                                            " bytes with CRC-32 ", crc32_value));
  }
  // The record first, so that a file in place always has one (a crash between the two leaves
  // a record without a file, which is as good as nothing stored).
  // Two uploads of one name (two attempts) must not pair one's record with the other's file.
  static std::mutex commit_mu;
  std::lock_guard<std::mutex> lock(commit_mu);
  if (absl::Status s = WriteChecksumRecord(ChecksumPath(final_path_).string(),
                                           {written_, static_cast<uint32_t>(crc_)});
      !s.ok()) {
    return s;
  }
  std::error_code error;
  fs::rename(temp_path_, final_path_, error);
  if (error) return absl::InternalError(absl::StrCat(final_path_, ": ", error.message()));
  committed_ = true;
  return relative_;
}

}  // namespace polytrain
