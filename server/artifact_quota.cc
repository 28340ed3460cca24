#include "server/artifact_quota.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/byte_count.h"

namespace polytrain {

ArtifactQuota::Reservation& ArtifactQuota::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (quota_ != nullptr) quota_->Release(caller_.name, reserved_);
    quota_ = std::exchange(other.quota_, nullptr);
    caller_ = std::move(other.caller_);
    stored_ = other.stored_;
    reserved_ = std::exchange(other.reserved_, 0);
  }
  return *this;
}

ArtifactQuota::Reservation::~Reservation() {
  if (quota_ != nullptr) quota_->Release(caller_.name, reserved_);
}

absl::Status ArtifactQuota::Reservation::GrowTo(int64_t bytes) {
  if (quota_ == nullptr || bytes <= reserved_) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(quota_->mu_);
  int64_t& in_flight = quota_->in_flight_[caller_.name];
  const int64_t more = bytes - reserved_;
  if (stored_ + in_flight + more > quota_->max_client_bytes_) {
    return quota_->Refusal(caller_, "data", stored_, in_flight - reserved_, bytes);
  }
  in_flight += more;
  reserved_ = bytes;
  return absl::OkStatus();
}

std::optional<int64_t> ArtifactQuota::QuotaOf(const Caller& caller) const {
  if (!caller.own_jobs_only) return std::nullopt;
  return max_client_bytes_;
}

absl::StatusOr<ArtifactQuota::Reservation> ArtifactQuota::Begin(const Caller& caller,
                                                                const std::string& id,
                                                                int64_t announced) {
  Reservation reservation;
  if (!QuotaOf(caller).has_value()) return reservation;
  absl::StatusOr<polytrain::v1::Artifact> held = store_->FindArtifact(id, caller.name);
  if (held.ok()) return reservation;  // its bytes count already
  if (!absl::IsNotFound(held.status())) return held.status();
  absl::StatusOr<ArtifactTotals> stored = store_->TotalArtifacts(caller.name);
  if (!stored.ok()) return stored.status();
  reservation.quota_ = this;
  reservation.caller_ = caller;
  reservation.stored_ = stored->bytes;
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& in_flight = in_flight_[caller.name];
  if (announced > 0 && stored->bytes + in_flight + announced > max_client_bytes_) {
    const int64_t others = in_flight;
    if (in_flight == 0) in_flight_.erase(caller.name);
    reservation.quota_ = nullptr;
    return Refusal(caller, "size_bytes", stored->bytes, others, announced);
  }
  in_flight += announced;
  reservation.reserved_ = announced;
  return reservation;
}

absl::Status ArtifactQuota::CheckStore(const Caller& caller, const std::string& id, int64_t bytes) {
  if (!QuotaOf(caller).has_value()) return absl::OkStatus();
  absl::StatusOr<polytrain::v1::Artifact> held = store_->FindArtifact(id, caller.name);
  if (held.ok()) return absl::OkStatus();
  if (!absl::IsNotFound(held.status())) return held.status();
  absl::StatusOr<ArtifactTotals> stored = store_->TotalArtifacts(caller.name);
  if (!stored.ok()) return stored.status();
  if (bytes > 0 && stored->bytes + bytes > max_client_bytes_) {
    return Refusal(caller, "data", stored->bytes, 0, bytes);
  }
  return absl::OkStatus();
}

absl::Status ArtifactQuota::Refusal(const Caller& caller, const std::string& field, int64_t stored,
                                    int64_t in_flight, int64_t bytes) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      field, ": the artifact's ", ByteCountText(bytes), " would take ",
      caller.name.empty() ? "this client" : absl::StrCat("client '", caller.name, "'"),
      " past its storage quota of ", ByteCountText(max_client_bytes_),
      " (the coordinator's --max_artifact_bytes_per_client): its artifacts hold ",
      ByteCountText(stored),
      in_flight > 0 ? absl::StrCat(" and its other uploads under way ", ByteCountText(in_flight))
                    : "",
      "; nothing stored: delete artifacts it no longer needs (polyctl artifacts lists them, "
      "polyctl artifacts delete ID)"));
}

void ArtifactQuota::Release(const std::string& caller, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(caller);
  if (it == in_flight_.end()) return;
  it->second -= bytes;
  if (it->second <= 0) in_flight_.erase(it);
}

}  // namespace polytrain
