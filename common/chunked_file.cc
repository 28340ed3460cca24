#include "common/chunked_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_sync.h"

namespace polytrain {

uint32_t ExtendCrc32(uint32_t crc, absl::string_view data) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

ChunkedFileReader::ChunkedFileReader(std::string path, size_t chunk_bytes)
    : path_(std::move(path)), chunk_bytes_(chunk_bytes), in_(path_, std::ios::binary) {}

absl::StatusOr<std::unique_ptr<ChunkedFileReader>> ChunkedFileReader::Open(const std::string& path,
                                                                           size_t chunk_bytes) {
  std::unique_ptr<ChunkedFileReader> reader(new ChunkedFileReader(path, chunk_bytes));
  if (!reader->in_) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  return reader;
}

absl::Status ChunkedFileReader::Next(std::string* data, bool* last) {
  data->resize(chunk_bytes_);
  in_.read(data->data(), static_cast<std::streamsize>(chunk_bytes_));
  data->resize(static_cast<size_t>(in_.gcount()));
  if (in_.bad()) return absl::DataLossError(absl::StrCat(path_, ": read failed"));
  read_.size += static_cast<int64_t>(data->size());
  read_.crc32 = ExtendCrc32(read_.crc32, *data);
  // A short read means the end; a full one may be followed by nothing, which peek() tells.
  *last = !in_ || in_.peek() == std::ifstream::traits_type::eof();
  return absl::OkStatus();
}

namespace {

constexpr char kDownloadMarker[] = ".download-";
// The most of a name its hidden temporary name keeps: with the marker, the pid and the random
// part it stays within the 255 bytes of a file name (a name that long is allowed; its temporary
// name would not be). The Python client cuts it the same way.
constexpr size_t kMaxNameBytes = 200;

// The hidden temporary name's prefix of a download to `final_path`: "<dir>/.<name>.download-".
std::string DownloadTempPrefix(const std::string& final_path) {
  const std::filesystem::path path(final_path);
  return (path.parent_path() /
          absl::StrCat(".", path.filename().string().substr(0, kMaxNameBytes), kDownloadMarker))
      .string();
}

}  // namespace

ChunkedFileWriter::ChunkedFileWriter(std::string final_path, int64_t max_bytes, TempName temp_name)
    : final_path_(std::move(final_path)), max_bytes_(max_bytes) {
  // The pid and a random number: another process writing the same final path (two downloads
  // to one file) has its own temporary file, so neither renames the other's bytes into place.
  static std::atomic<uint64_t> counter{std::random_device{}()};
  const std::string unique =
      absl::StrCat(getpid(), "-", absl::Hex(counter.fetch_add(0x9E3779B97F4A7C15ULL)));
  // ".upload-" is api/limits.h's kUploadMarker (common/ is below api/ and does not include
  // it): what the artifact store skips as unfinished.
  temp_path_ = temp_name == TempName::kDownload
                   ? absl::StrCat(DownloadTempPrefix(final_path_), unique)
                   : absl::StrCat(final_path_, ".upload-", unique);
}

int ChunkedFileWriter::RemoveAbandonedDownloads(const std::string& final_path) {
  const std::string prefix = DownloadTempPrefix(final_path);
  const std::string name_prefix = std::filesystem::path(prefix).filename().string();
  std::filesystem::path directory = std::filesystem::path(prefix).parent_path();
  if (directory.empty()) directory = ".";
  int removed = 0;
  std::error_code error;
  // Stepped with an error code: a directory that cannot be read (a stale NFS handle) ends the
  // search, not the program.
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    const std::filesystem::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, name_prefix)) continue;
    // Exactly "<pid>-<hex>" after the prefix: the temporary file of a download to
    // "NAME.download-1-x" starts with this prefix too, and is not this path's.
    const std::string rest = name.substr(name_prefix.size());
    const size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size() ||
        rest.find_first_not_of("0123456789") != dash ||
        rest.find_first_not_of("0123456789abcdef", dash + 1) != std::string::npos) {
      continue;
    }
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, dash), &pid) || pid <= 0) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // its writer may still run
    std::error_code stat_error;
    const auto written = std::filesystem::last_write_time(entry.path(), stat_error);
    if (stat_error ||
        std::filesystem::file_time_type::clock::now() - written < std::chrono::minutes(1)) {
      continue;
    }
    std::error_code remove_error;
    if (std::filesystem::remove(entry.path(), remove_error)) ++removed;
  }
  return removed;
}

absl::StatusOr<std::unique_ptr<ChunkedFileWriter>> ChunkedFileWriter::Create(
    const std::string& final_path, int64_t max_bytes, TempName temp_name) {
  // A directory that cannot be made is named by the open below.
  (void)CreateDirectoriesDurably(std::filesystem::path(final_path).parent_path().string());
  std::unique_ptr<ChunkedFileWriter> writer(
      new ChunkedFileWriter(final_path, max_bytes, temp_name));
  // O_EXCL: a name taken (by a writer whose pid and random number came out the same) is never
  // shared.
  writer->fd_ = open(writer->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (writer->fd_ < 0) {
    const int why = errno;
    return absl::InternalError(
        absl::StrCat(writer->temp_path_, ": cannot open for writing: ", std::strerror(why)));
  }
  writer->created_ = true;
  return writer;
}

ChunkedFileWriter::~ChunkedFileWriter() {
  if (fd_ >= 0) close(fd_);
  // Only a file this writer made (an O_EXCL refusal names another's) and did not commit.
  if (!created_ || committed_) return;
  std::error_code error;
  std::filesystem::remove(temp_path_, error);
}

absl::Status WriteFailure(absl::string_view what, int error) {
  // A full disk is the receiver's resource, not a bug: said as such (exit 5 in polyctl, not 7),
  // and nothing is stored.
  if (error == ENOSPC || error == EDQUOT) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": the receiver's disk is full (",
                                                     std::strerror(error), "); nothing stored"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(error)));
}

bool IsDiskFull(const absl::Status& status) {
  return absl::IsResourceExhausted(status) && absl::StrContains(status.message(), "disk is full");
}

absl::Status ChunkedFileWriter::Append(absl::string_view data) {
  if (written_.size + static_cast<int64_t>(data.size()) > max_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: a file is at most ", max_bytes_, " bytes here"));
  }
  if (fd_ < 0) return absl::FailedPreconditionError("append after verify");
  for (size_t done = 0; done < data.size();) {
    const ssize_t wrote = write(fd_, data.data() + done, data.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return WriteFailure("writing the received file failed", errno);
    done += static_cast<size_t>(wrote);
  }
  written_.crc32 = ExtendCrc32(written_.crc32, data);
  written_.size += static_cast<int64_t>(data.size());
  // Start writing back what came so far, without waiting: the sync before the rename then waits
  // for the last few MiB only, not for the whole file (up to 4 GiB) on the caller's thread.
  if (written_.size - started_writeback_ >= kWritebackBytes) {
    (void)sync_file_range(fd_, started_writeback_, written_.size - started_writeback_,
                          SYNC_FILE_RANGE_WRITE);
    started_writeback_ = written_.size;
  }
  return absl::OkStatus();
}

absl::Status ChunkedFileWriter::Verify(absl::string_view label, const FileChecksum& sent) {
  if (fd_ < 0) return absl::FailedPreconditionError("verify twice");
  // A damaged file is not worth a sync: it is never renamed into place.
  const bool intact = sent == written_;
  // On the disk before it is renamed into place: a name in place never holds a partial file.
  const int synced = !intact || fsync(fd_) == 0 || errno == EINVAL ? 0 : errno;
  const int closed = close(fd_) == 0 ? 0 : errno;
  fd_ = -1;
  if (!intact) {
    return absl::DataLossError(
        absl::StrCat(label, ": received ", written_.size, " bytes with CRC-32 ", written_.crc32,
                     ", the sender says ", sent.size, " bytes with CRC-32 ", sent.crc32));
  }
  if (synced != 0 || closed != 0) {
    // The coordinator's own paths stay out of a caller's answer.
    return WriteFailure(absl::StrCat(label, ": storing the received file failed"),
                        synced != 0 ? synced : closed);
  }
  verified_ = true;
  return absl::OkStatus();
}

absl::Status ChunkedFileWriter::Commit(Existing existing, bool sync_directory) {
  if (!verified_) return absl::FailedPreconditionError("commit before verify");
  if (existing == Existing::kReplace) {
    std::error_code error;
    std::filesystem::rename(temp_path_, final_path_, error);
    if (error) return absl::InternalError(absl::StrCat(final_path_, ": ", error.message()));
    committed_ = true;
    if (sync_directory) SyncParentDirectory(final_path_);
    return absl::OkStatus();
  }
  int result =
      renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, final_path_.c_str(), RENAME_NOREPLACE);
  if (result != 0 && (errno == EINVAL || errno == ENOSYS)) {
    // A file system without RENAME_NOREPLACE: link() also fails on an existing name.
    result = link(temp_path_.c_str(), final_path_.c_str());
    // The file is in place either way; a temporary name left beside it (unlink failing on a
    // file system that just took a link is not expected) is one the stores skip as unfinished.
    if (result == 0) unlink(temp_path_.c_str());
  }
  if (result != 0) {
    const int why = errno;
    if (why == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          final_path_, " exists (made while this was written); remove it or name another file"));
    }
    return absl::InternalError(absl::StrCat(final_path_, ": ", std::strerror(why)));
  }
  committed_ = true;
  if (sync_directory) SyncParentDirectory(final_path_);
  return absl::OkStatus();
}

}  // namespace polytrain
