#include "server/artifact_catalog.h"

#include <chrono>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/torch_file_check.h"
#include "common/validation.h"
#include "server/page_token.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

std::string StoredPath(const std::string& id) {
  return absl::StrCat(kUserArtifactDir, "/", ArtifactHex(id));
}

}  // namespace

std::optional<std::string> ArtifactCatalog::OwnerScope(const Caller& caller) {
  if (caller.own_jobs_only) return caller.name;
  return std::nullopt;
}

absl::Status ArtifactCatalog::TakeUploadSlotLocked(const std::string& caller) {
  int& in_flight = uploads_in_flight_[caller];
  if (in_flight >= kMaxConcurrentUploads) {
    return absl::ResourceExhaustedError(
        absl::StrCat("at most ", kMaxConcurrentUploads,
                     " uploads at once per caller (a fixed limit); wait for one to end"));
  }
  ++in_flight;
  return absl::OkStatus();
}

void ArtifactCatalog::ReleaseUploadSlotLocked(const std::string& caller) {
  auto it = uploads_in_flight_.find(caller);
  if (it != uploads_in_flight_.end() && --it->second == 0) uploads_in_flight_.erase(it);
}

absl::StatusOr<std::optional<polytrain::v1::Artifact>> ArtifactCatalog::AlreadyUploaded(
    const polytrain::v1::UploadArtifactRequest& first, const Caller& caller) {
  absl::StatusOr<polytrain::v1::Artifact> record;
  const std::string relative = StoredPath(first.sha256());
  std::optional<FileStamp> stamp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    record = store_->FindArtifact(first.sha256(), caller.name);
    if (!record.ok()) return std::nullopt;
    if (first.has_size_bytes() && first.size_bytes() != record->size_bytes()) {
      return InvalidField("size_bytes",
                          absl::StrCat("the file of ", first.sha256(), " is ", record->size_bytes(),
                                       " bytes, not ", first.size_bytes()));
    }
    std::error_code error;
    const std::filesystem::path path = std::filesystem::path(files_->root()) / relative;
    const auto size = std::filesystem::file_size(path, error);
    const auto modified = std::filesystem::last_write_time(path, error);
    if (error) return std::nullopt;  // gone: uploaded again
    stamp = FileStamp{
        static_cast<int64_t>(size),
        std::chrono::duration_cast<std::chrono::nanoseconds>(modified.time_since_epoch()).count()};
    auto known = intact_.find(first.sha256());
    if (known != intact_.end() && known->second == *stamp) return *std::move(record);
    POLYTRAIN_RETURN_IF_ERROR(TakeUploadSlotLocked(caller.name));
  }
  // The stored file is read whole (outside the lock: it may be large) and checked against the
  // size and CRC-32 it was stored with: a damaged or missing one is uploaded again, which
  // replaces it.
  const bool intact = files_->FindIntact(relative).ok();
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseUploadSlotLocked(caller.name);
  if (!intact) {
    intact_.erase(first.sha256());
    return std::nullopt;
  }
  intact_[first.sha256()] = *stamp;
  return *std::move(record);
}

absl::StatusOr<std::unique_ptr<ArtifactCatalog::Upload>> ArtifactCatalog::BeginUpload(
    const polytrain::v1::UploadArtifactRequest& first, const Caller& caller) {
  if (first.has_size_bytes() && first.size_bytes() > max_upload_bytes_) {
    return InvalidField("size_bytes", absl::StrCat("the artifact is ", first.size_bytes(),
                                                   " bytes, larger than this coordinator's "
                                                   "--max_artifact_bytes (",
                                                   max_upload_bytes_, " bytes); nothing sent"));
  }
  absl::StatusOr<ArtifactQuota::Reservation> reservation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    POLYTRAIN_RETURN_IF_ERROR(TakeUploadSlotLocked(caller.name));
    // Under mu_, as an upload's store is (which gives its reservation back with its record
    // made): an upload ending meanwhile is counted once, stored or in flight, never both or
    // neither.
    reservation =
        quota_.Begin(caller, first.sha256(), first.has_size_bytes() ? first.size_bytes() : 0);
  }
  absl::StatusOr<std::unique_ptr<ArtifactStore::Upload>> file =
      reservation.ok() ? files_->Begin(kUserArtifactDir, ArtifactHex(first.sha256()))
                       : reservation.status();
  if (!file.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ReleaseUploadSlotLocked(caller.name);
    return file.status();
  }
  polytrain::v1::UploadArtifactRequest header = first;
  header.clear_data();
  return std::unique_ptr<Upload>(
      new Upload(this, caller, std::move(header), *std::move(file), *std::move(reservation)));
}

ArtifactCatalog::Upload::Upload(ArtifactCatalog* catalog, Caller caller,
                                polytrain::v1::UploadArtifactRequest first,
                                std::unique_ptr<ArtifactStore::Upload> file,
                                ArtifactQuota::Reservation reservation)
    : catalog_(catalog),
      caller_(std::move(caller)),
      first_(std::move(first)),
      file_(std::move(file)),
      reservation_(std::move(reservation)) {}

ArtifactCatalog::Upload::~Upload() {
  std::lock_guard<std::mutex> lock(catalog_->mu_);
  catalog_->ReleaseUploadSlotLocked(caller_.name);
}

absl::Status ArtifactCatalog::Upload::Append(const std::string& data) {
  if (first_.has_size_bytes() &&
      received_ + static_cast<int64_t>(data.size()) > first_.size_bytes()) {
    return InvalidField("size_bytes",
                        absl::StrCat("the stream carries more than the ", first_.size_bytes(),
                                     " bytes announced; nothing stored"));
  }
  if (received_ + static_cast<int64_t>(data.size()) > catalog_->max_upload_bytes_) {
    return InvalidField("data", absl::StrCat("the artifact is larger than this coordinator's "
                                             "--max_artifact_bytes (",
                                             catalog_->max_upload_bytes_, " bytes)"));
  }
  POLYTRAIN_RETURN_IF_ERROR(reservation_.GrowTo(received_ + static_cast<int64_t>(data.size())));
  POLYTRAIN_RETURN_IF_ERROR(file_->Append(data));
  hasher_.Update(data);
  received_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::StatusOr<polytrain::v1::Artifact> ArtifactCatalog::Upload::Finish() {
  if (first_.has_size_bytes() && received_ != first_.size_bytes()) {
    return InvalidField("size_bytes",
                        absl::StrCat("the stream carried ", received_, " bytes, not the ",
                                     first_.size_bytes(), " announced; nothing stored"));
  }
  const std::string id = ArtifactIdOfHex(hasher_.FinishHex());
  if (id != first_.sha256()) {
    return absl::DataLossError(absl::StrCat("sha256: the ", received_, " bytes received hash to ",
                                            id, ", not ", first_.sha256(), "; nothing stored"));
  }
  polytrain::v1::Artifact record;
  record.set_id(id);
  record.set_name(first_.name());
  record.set_size_bytes(received_);
  record.set_owner(caller_.name);
  std::lock_guard<std::mutex> lock(catalog_->mu_);
  // Exact, and under mu_: the caller's other uploads that ended meanwhile count now.
  POLYTRAIN_RETURN_IF_ERROR(catalog_->quota_.CheckStore(caller_, id, received_));
  POLYTRAIN_RETURN_IF_ERROR(file_->CommitAsWritten().status());
  absl::StatusOr<polytrain::v1::Artifact> stored = catalog_->store_->PutArtifact(record);
  reservation_ = ArtifactQuota::Reservation();  // its bytes are a record's now, or nothing
  if (!stored.ok()) {
    // Nothing stored means no file either: one no record names could never be listed or
    // deleted (probe CG: a full --db disk left every refused upload's file behind). Under mu_,
    // no other record of these bytes can appear meanwhile.
    absl::StatusOr<int64_t> records = catalog_->store_->CountArtifactRecords(id);
    if (records.ok() && *records == 0) {
      catalog_->intact_.erase(id);
      if (absl::Status removed = catalog_->files_->Remove(StoredPath(id)); !removed.ok()) {
        spdlog::error("artifact {}: its record was not stored and its file stays: {}", id,
                      std::string(removed.message()));
      }
    }
    return stored.status();
  }
  spdlog::info("artifact {} ({}, {} bytes) stored for {}", id, stored->name(), received_,
               caller_.name.empty() ? "anonymous" : caller_.name);
  return stored;
}

absl::StatusOr<polytrain::v1::Artifact> ArtifactCatalog::WithActiveJobs(
    polytrain::v1::Artifact record, const Caller& caller) {
  absl::StatusOr<int64_t> active = store_->CountActiveJobsNaming(record.id(), OwnerScope(caller));
  if (!active.ok()) return active.status();
  record.set_active_jobs(static_cast<int32_t>(*active));
  return record;
}

absl::StatusOr<polytrain::v1::ListArtifactsResponse> ArtifactCatalog::List(
    const polytrain::v1::ListArtifactsRequest& request, const Caller& caller) {
  PageQuery query;  // what a page token is bound to: the caller
  query.Add(caller.name).Add(caller.own_jobs_only ? "client" : "admin");
  absl::StatusOr<std::string> position = PagePosition(request.page_token(), query, "ListArtifacts");
  if (!position.ok()) return position.status();
  absl::StatusOr<ArtifactPage> page = store_->ListArtifacts(
      OwnerScope(caller), request.page_size() == 0 ? kDefaultPageSize : request.page_size(),
      *position);
  if (!page.ok()) return page.status();
  polytrain::v1::ListArtifactsResponse response;
  for (polytrain::v1::Artifact& record : page->artifacts) {
    absl::StatusOr<polytrain::v1::Artifact> counted = WithActiveJobs(std::move(record), caller);
    if (!counted.ok()) return counted.status();
    *response.add_artifacts() = *std::move(counted);
  }
  response.set_next_page_token(BindPageToken(page->next_page_token, query));
  absl::StatusOr<ArtifactTotals> totals = store_->TotalArtifacts(OwnerScope(caller));
  if (!totals.ok()) return totals.status();
  response.set_total_records(totals->records);
  response.set_total_bytes(totals->bytes);
  if (std::optional<int64_t> quota = quota_.QuotaOf(caller)) response.set_quota_bytes(*quota);
  return response;
}

absl::StatusOr<polytrain::v1::DeleteArtifactResponse> ArtifactCatalog::Delete(
    const polytrain::v1::DeleteArtifactRequest& request, const Caller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<std::string> scope = OwnerScope(caller);
  absl::StatusOr<polytrain::v1::Artifact> record = store_->FindArtifact(request.id(), scope);
  if (!record.ok()) {
    if (record.status().code() != absl::StatusCode::kNotFound) return record.status();
    return absl::NotFoundError(
        absl::StrCat("id: no artifact ", request.id(), scope.has_value() ? " of yours" : ""));
  }
  absl::StatusOr<int64_t> active = store_->CountActiveJobsNaming(request.id(), scope);
  if (!active.ok()) return active.status();
  if (*active > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: ", *active, " queued or running job(s) name ", request.id(),
                     "; cancel them or wait for them to end"));
  }
  // The last record never goes while anyone's job names the file: the file would be left with
  // no record to list or delete it by.
  absl::StatusOr<int64_t> records = store_->CountArtifactRecords(request.id());
  if (!records.ok()) return records.status();
  // An admin's scope is everyone's: the count above is the same.
  absl::StatusOr<int64_t> anyone_active =
      scope.has_value() ? store_->CountActiveJobsNaming(request.id(), std::nullopt) : active;
  if (!anyone_active.ok()) return anyone_active.status();
  const bool last_records = !scope.has_value() || *records <= 1;
  if (last_records && *anyone_active > 0) {
    return absl::FailedPreconditionError(absl::StrCat("id: a queued or running job names ",
                                                      request.id(),
                                                      "; it can be deleted once that job ends"));
  }
  absl::StatusOr<std::vector<polytrain::v1::Artifact>> deleted =
      store_->DeleteArtifact(request.id(), scope);
  if (!deleted.ok()) return deleted.status();
  polytrain::v1::DeleteArtifactResponse response;
  for (polytrain::v1::Artifact& gone : *deleted) *response.add_deleted() = std::move(gone);
  // The file goes with its last record. Only an admin is told: a client would otherwise learn
  // whether someone else stored the same bytes.
  if (last_records) {
    intact_.erase(request.id());
    if (absl::Status s = files_->Remove(StoredPath(request.id())); !s.ok()) {
      spdlog::error("artifact {}: its records are deleted but the file stays: {}", request.id(),
                    std::string(s.message()));
    } else if (!scope.has_value()) {
      response.set_file_deleted(true);
    }
  }
  return response;
}

absl::Status ArtifactCatalog::SubmitNaming(const std::vector<NamedArtifact>& named,
                                           const Caller& caller,
                                           const std::function<absl::Status()>& submit) {
  if (named.empty()) return submit();
  std::lock_guard<std::mutex> lock(mu_);
  for (const NamedArtifact& artifact : named) {
    // A record whose file is gone (removed by hand) counts as absent.
    absl::StatusOr<polytrain::v1::Artifact> record =
        store_->FindArtifact(artifact.id, OwnerScope(caller));
    absl::StatusOr<std::string> file =
        record.ok() ? files_->Find(StoredPath(artifact.id)) : record.status();
    if (record.ok() && file.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(
          artifact.field, ": ", artifact.id, " (", Quote(record->name()),
          ") is listed but its file is missing from the coordinator's --artifacts directory; "
          "upload it again (polyctl upload)"));
    }
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(artifact.field, ": no artifact ", artifact.id,
                                              OwnerScope(caller).has_value() ? " of yours" : "",
                                              " is stored; upload it first (polyctl upload)"));
    }
    if (!file.ok()) return file.status();
    // What the worker would refuse after starting the job, refused now, naming the upload.
    POLYTRAIN_RETURN_IF_ERROR(CheckTorchFile(
        *file, absl::StrCat(artifact.field, " (", Quote(record->name()), ")"), artifact.kind));
  }
  return submit();
}

absl::StatusOr<ArtifactCatalog::MissingFiles> ArtifactCatalog::FindMissingFiles() const {
  MissingFiles found;
  std::set<std::string> seen;  // an id uploaded by several owners has one file
  std::string token;
  do {
    absl::StatusOr<ArtifactPage> page = store_->ListArtifacts(std::nullopt, 1000, token);
    if (!page.ok()) return page.status();
    for (const polytrain::v1::Artifact& record : page->artifacts) {
      if (!seen.insert(record.id()).second) continue;
      ++found.recorded;
      if (files_->Find(StoredPath(record.id())).status().code() != absl::StatusCode::kNotFound) {
        continue;
      }
      ++found.missing;
      if (found.first.size() < 3) {
        found.first.push_back(absl::StrCat(record.name(), " (", record.id(), ")"));
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  return found;
}

absl::StatusOr<std::vector<std::string>> ArtifactCatalog::FindJobsMissingCheckpoint() const {
  absl::StatusOr<std::vector<polytrain::v1::Job>> unended =
      store_->JobsInStates({polytrain::v1::JOB_STATE_QUEUED, polytrain::v1::JOB_STATE_RUNNING,
                            polytrain::v1::JOB_STATE_PAUSED});
  if (!unended.ok()) return unended.status();
  std::vector<std::string> lacking;
  for (const polytrain::v1::Job& job : *unended) {
    if (!job.checkpoint().empty() && absl::IsNotFound(files_->Find(job.checkpoint()).status())) {
      lacking.push_back(job.id());
    }
  }
  return lacking;
}

}  // namespace polytrain
