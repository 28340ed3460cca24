// One validator per message a worker sends (worker.proto): the hello that opens its stream, and
// each numbered message after it, with every bound of the protocol (points per batch, values per
// point, name lengths, steps). INVALID_ARGUMENT names the field; the coordinator refuses such a
// message for good (it acknowledges it, so the worker does not send it again).
#ifndef POLYTRAIN_API_WORKER_MESSAGES_H_
#define POLYTRAIN_API_WORKER_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/limits.h"
#include "polytrain/v1/worker.pb.h"

namespace polytrain {

// How the coordinator's PERMISSION_DENIED for a transfer under a session key it does not know
// begins. A worker whose coordinator restarted meets it until its stream has reconnected (its
// key is the old coordinator's), and tries again as for an outage.
inline constexpr char kUnknownSessionKeyRefusal[] =
    "session_key: not the key of a connected worker's session";

absl::Status ValidateHello(const polytrain::v1::Hello& hello);

// A worker's name: 1 to kMaxWorkerNameLength characters of [A-Za-z0-9._-]; errors name `field`
// (the worker checks its --name so, before it dials).
absl::Status ValidateWorkerName(absl::string_view field, absl::string_view name);

// Any message after the hello: its kind is set and every part of it is within bounds. A hello
// here is not an error of its own (the stream's state decides); a failure's error text is never
// refused for its length (CutError shortens it).
absl::Status ValidateWorkerMessage(const polytrain::v1::WorkerMessage& message);

absl::Status ValidateMetricBatch(const polytrain::v1::MetricBatch& batch);

// "host:port" (IPv6 hosts in brackets), at most kMaxRendezvousAddressLength characters, port in
// [1, 65535]: where rank 0 of a data-parallel attempt listens for its peers.
absl::Status ValidateRendezvousAddress(absl::string_view field, absl::string_view address);

// A failed job's error as the coordinator keeps it and a worker sends it: valid UTF-8 (each byte
// that is not, U+FFFD), control characters but line breaks and tabs written as \xNN, at most
// `max_length` bytes cut between two characters, then a mark that it was cut (kCutMark).
std::string CutError(const std::string& error, size_t max_length = kMaxErrorLength);
// What CutError appends to an error it cut.
inline constexpr absl::string_view kCutMark = "... (cut)";

// An artifact's name, or a job id used as a directory: a single path component of
// [A-Za-z0-9._-], 1 to kMaxArtifactNameLength characters, not starting with '.' (so never "."
// or "..", nor a hidden file).
absl::Status ValidateArtifactName(absl::string_view field, absl::string_view name);

// A stored artifact's path as requests name it: "<job_id>/<name>", both plain names, or
// "sha256/<64 lowercase hex digits>" for a stored file.
absl::Status ValidateArtifactPath(absl::string_view field, absl::string_view path);

// A file a worker uploads: never with the store's temporary marker (kUploadMarker) in its name,
// and a checkpoint (kCheckpointPrefix) numbered by its step in kCheckpointStepDigits digits.
absl::Status ValidateUploadedName(absl::string_view field, absl::string_view name);

// A step a worker reports of `spec`'s job (a point's, an attempt's end or start, a checkpoint's):
// at most spec.max_steps where the spec has one, else kMaxSteps. An epoch budget is the
// worker's to count (the coordinator does not know the data's size).
absl::Status CheckStepInBudget(absl::string_view field, int64_t step,
                               const polytrain::v1::JobSpec& spec);

// The step a checkpoint's name (ckpt-<kCheckpointStepDigits digits>.pt) carries; nullopt for any
// other name.
std::optional<int64_t> CheckpointStep(absl::string_view name);
// The file name of a stored file's path relative to the artifact store ("<job_id>/<name>"): what
// follows the first '/' ("" for "", the whole path when it has none).
absl::string_view CheckpointName(absl::string_view path);

// The first chunk of an upload names the job and the file (ValidateUploadedName); every chunk holds
// at most kArtifactChunkBytes. `first` says which this is.
absl::Status ValidateArtifactChunk(const polytrain::v1::ArtifactChunk& chunk, bool first);

// The path names a stored file: "<job_id>/<name>".
absl::Status ValidateDownloadArtifactRequest(const polytrain::v1::DownloadArtifactRequest& request);

}  // namespace polytrain

#endif  // POLYTRAIN_API_WORKER_MESSAGES_H_
