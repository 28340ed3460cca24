// A client token's storage quota (the coordinator's --max_artifact_bytes_per_client): the bytes
// of its artifact records, with what its uploads in flight have announced or sent, stay within
// it. An admin token, or any caller without --tokens, has none. A record counts its file's size
// for each uploader holding one (what a client stored, not what the disk holds: the bytes of a
// file two clients uploaded are kept once); re-uploading bytes one holds a record of adds nothing,
// and an empty file never counts (also past the quota, which a lowered flag leaves a client).
// Thread-safe.
#ifndef POLYTRAIN_SERVER_ARTIFACT_QUOTA_H_
#define POLYTRAIN_SERVER_ARTIFACT_QUOTA_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/caller.h"
#include "server/job_store.h"

namespace polytrain {

class ArtifactQuota {
 public:
  // `store` must outlive this.
  ArtifactQuota(JobStore* store, int64_t max_client_bytes)
      : store_(store), max_client_bytes_(max_client_bytes) {}

  // What one upload holds of its caller's quota; gives it back when destroyed. Moveable only.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation();

    // Reserves up to `bytes` in all (the bytes received so far, for an upload that announced no
    // size): RESOURCE_EXHAUSTED naming "data" when the caller's records (as they were when the
    // upload began) and its uploads in flight would pass the quota with it.
    absl::Status GrowTo(int64_t bytes);

   private:
    friend class ArtifactQuota;
    ArtifactQuota* quota_ = nullptr;  // null: nothing to count (an admin, bytes held already)
    Caller caller_;
    int64_t stored_ = 0;    // the caller's records' bytes when the upload began
    int64_t reserved_ = 0;  // this upload's part of in_flight_[caller]
  };

  // For an upload of `id` by `caller` announcing `announced` bytes (0 when it announced none):
  // RESOURCE_EXHAUSTED naming size_bytes when the caller's records, its other uploads in flight
  // and these bytes would pass the quota. Its caller serializes it with the stores (CheckStore,
  // then the record made and the reservation given back), so that an upload ending meanwhile
  // counts once.
  absl::StatusOr<Reservation> Begin(const Caller& caller, const std::string& id, int64_t announced);

  // The last word, as the upload's file is stored (its caller serializes these): the caller's
  // records as they are now, with the `bytes` of `id`, must fit (RESOURCE_EXHAUSTED naming
  // "data" otherwise). In-flight reservations are not counted here: each is checked as it ends.
  absl::Status CheckStore(const Caller& caller, const std::string& id, int64_t bytes);

  // `caller`'s quota: unset for an admin.
  std::optional<int64_t> QuotaOf(const Caller& caller) const;

 private:
  absl::Status Refusal(const Caller& caller, const std::string& field, int64_t stored,
                       int64_t in_flight, int64_t bytes) const;
  void Release(const std::string& caller, int64_t bytes);

  JobStore* const store_;
  const int64_t max_client_bytes_;
  std::mutex mu_;
  std::map<std::string, int64_t> in_flight_;  // bytes reserved by uploads in flight, by caller
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_ARTIFACT_QUOTA_H_
