// The limits of the public API, and the names both sides of it share. Two families live beside
// their own code: a loss's (loss/core/loss_config.h) and a loss search's (api/loss_search.h). The
// protos (job.proto, coordinator.proto, worker.proto) repeat each limit next to its field;
// validation (api/*.h) is the only code that checks them against requests.
#ifndef POLYTRAIN_API_LIMITS_H_
#define POLYTRAIN_API_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace polytrain {

// --- JobSpec (job.proto) ---
inline constexpr int kMaxNameLength = 128;
inline constexpr int kMaxLabels = 32;
// A sweep's base: each of its jobs also gets the labels "sweep" and "loss" (kSweepLabel,
// kLossLabel).
inline constexpr int kMaxSweepBaseLabels = kMaxLabels - 2;
inline constexpr int kMaxLabelKeyLength = 63;
inline constexpr int kMaxLabelValueLength = 256;
inline constexpr int kMaxPathLength = 4096;
inline constexpr int kMaxLayerWidth = 65536;
// A built-in model's parameters (api/model_size.h): 4 GB of float32 weights, about 16 GB once
// gradients and Adam's two moments are counted.
inline constexpr int64_t kMaxModelParameters = 1'000'000'000;
inline constexpr int kMaxBatchSize = 65536;
inline constexpr int64_t kMaxSamples = 10'000'000;
// A synthetic dataset's features x max(train, test) samples (800 MB of float32).
inline constexpr int64_t kMaxSyntheticValues = 200'000'000;
inline constexpr int64_t kMaxSteps = 1'000'000'000;
inline constexpr int kMaxEpochs = 10000;
inline constexpr int kMaxThreads = 256;
inline constexpr int kMaxPriority = 1000;  // and -kMaxPriority
inline constexpr int kMaxAttempts = 100;
// Job.ended_attempts keeps the newest this many (attempts given back are not bounded by
// kMaxAttempts, so neither is the count of ended attempts).
inline constexpr int kMaxEndedAttempts = 20;
// Attempts of one job that stopping workers may give back without counting against
// spec.max_attempts; past it they count, so that a worker that says it stops and comes back
// (a crash loop, or a hostile one) cannot keep a job going round for ever.
inline constexpr int kMaxFreeGiveBacks = 100;
inline constexpr int kMaxTimeLimitSeconds = 365 * 24 * 3600;
// Job.attempts counts on across a search trial's segments: a worker message's attempt is only
// bounded below (it starts at 1).
inline constexpr int kMaxAttemptNumber = 2'147'483'647;
// Replicas of a data-parallel job (JobSpec.replicas).
inline constexpr int kMaxReplicas = 64;
inline constexpr int kMaxCropPadding = 64;
inline constexpr int kMaxNormalizedChannels = 1024;

// --- Coordinator service requests (coordinator.proto) ---
inline constexpr int kMaxJobIdLength = 64;
inline constexpr int kMaxRequestIdLength = 128;
// A sweep's request id leaves room for the "/<loss>/<seed>" each of its jobs appends.
inline constexpr int kSweepRequestIdSuffixLength = 16;
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
// The largest gRPC message either end sends or takes (the coordinator's server and clients).
inline constexpr int64_t kMaxMessageBytes = 16 << 20;
// What one answer of ListJobs or SubmitSweep may carry, well below the 16 MiB gRPC message limit
// of both ends: a ListJobs page ends early (with a next_page_token) before it; a sweep whose
// jobs would not fit is refused.
inline constexpr int64_t kMaxResponseBytes = 8 << 20;
// A sweep job's fields besides its spec (ids, names, state, times), counted against it.
inline constexpr int64_t kSweepJobOverheadBytes = 512;
inline constexpr int kMaxPageTokenLength = 32;
inline constexpr int kMaxOwnerLength = 64;
inline constexpr int kMaxSweepLosses = 100;
inline constexpr int kMaxSweepSeeds = 100;
inline constexpr int kMaxSweepJobs = 1000;
inline constexpr int kMaxCompareJobs = 1000;
inline constexpr int kMaxCompareSweeps = 100;
inline constexpr int kDefaultCurvePoints = 200;
inline constexpr int kMaxCurvePoints = 10000;
inline constexpr int kMaxRequestedMetricPoints = 10'000'000;
// A compared metric is a metric value's name; a baseline is a loss's short name.
inline constexpr int kMaxLossNameLength = 128;

// --- Worker protocol (worker.proto) ---
inline constexpr int kMaxWorkerNameLength = 128;
// Hello.previous_session_key (a Welcome.session_key is 32 hex digits).
inline constexpr int kMaxSessionKeyLength = 64;
inline constexpr int kMaxSlots = 64;
// Hello.threads (the worker's threads for all its jobs) and Hello.devices.
inline constexpr int kMaxWorkerThreads = 65536;
inline constexpr int kMaxWorkerDevices = 8;
// Jobs a hello or heartbeat may claim: its slots' jobs and results not yet acknowledged.
inline constexpr int kMaxClaimedJobs = 1024;
// A data-parallel attempt's rendezvous, "host:port".
inline constexpr int kMaxRendezvousAddressLength = 256;
inline constexpr int kMaxPointsPerBatch = 10000;
// A job's stored metric points, all its attempts together, as serialized MetricPoint messages:
// 256 MiB (a million points of a dozen values take about 150 MB). A batch that would pass it is
// refused naming the bound, so one job (or one hostile worker) cannot fill the database.
inline constexpr int64_t kMaxMetricBytesPerJob = int64_t{256} << 20;
inline constexpr int kMaxValuesPerPoint = 256;
// An evaluation reports <prefix>class_accuracy/<k> for tasks of at most this many classes (with
// a validation split twice that, and a few more keys: within kMaxValuesPerPoint). Larger tasks
// get the overall metrics only: a thousand per-class series per job would flood every store.
inline constexpr int kMaxClassesWithPerClassMetrics = 100;
inline constexpr int kMaxValueNameLength = 128;
// A failed job's error is cut here (never refused for its length).
inline constexpr size_t kMaxErrorLength = 4096;

// --- Artifacts (worker.proto) ---
inline constexpr size_t kArtifactChunkBytes = size_t{1} << 20;
// Empty chunks in a row an upload may send (a chunk marked last may be empty): each would keep
// the transfer's idle timer from running out, holding an upload slot with no bytes coming.
inline constexpr int kMaxEmptyChunksInARow = 64;
inline constexpr int64_t kMaxArtifactBytes = int64_t{4} << 30;
inline constexpr int kMaxArtifactNameLength = 128;
// Checkpoints are the artifacts named ckpt-<zero-padded step>.pt, so that names sort by step.
inline constexpr char kCheckpointPrefix[] = "ckpt-";
inline constexpr int kCheckpointStepDigits = 12;
// What marks the artifact store's temporary files (<name>.upload-<random>): never in a stored
// name.
inline constexpr char kUploadMarker[] = ".upload-";
// Checkpoints the coordinator keeps per job: the newest, and two to fall back on.
inline constexpr size_t kStoredCheckpointsPerJob = 3;

// --- Artifacts of users (coordinator.proto: UploadArtifact, JobSpec artifact fields) ---
// An artifact's id: this prefix, then the file's SHA-256 in 64 lowercase hex digits.
inline constexpr char kArtifactIdPrefix[] = "sha256:";
// The coordinator stores them as the artifacts of this pseudo-job: <artifacts>/sha256/<hex>,
// so workers fetch them with DownloadArtifact("sha256/<hex>") like checkpoints.
inline constexpr char kUserArtifactDir[] = "sha256";
// --max_artifact_bytes: its default, and the most it may be set to.
inline constexpr int64_t kDefaultMaxUploadBytes = int64_t{2} << 30;
inline constexpr int64_t kMaxUploadBytes = kMaxArtifactBytes;
// UploadArtifactRequest.size_bytes's range (a file's size, then held to --max_artifact_bytes).
inline constexpr int64_t kMaxDeclaredArtifactBytes = int64_t{1} << 62;
// The bytes a client token's artifact records may hold, by default (the coordinator's
// --max_artifact_bytes_per_client), and the flag's largest value.
inline constexpr int64_t kDefaultMaxClientArtifactBytes = int64_t{20} << 30;
inline constexpr int64_t kMaxClientArtifactBytes = int64_t{1} << 62;
// Uploads one caller may have in flight at once (each holds a temporary file of up to the limit).
inline constexpr int kMaxConcurrentUploads = 4;
// Checkpoint downloads (DownloadCheckpoint) one caller may have in flight at once (each holds a
// file open, and a thread while the file is checked against its record).
inline constexpr int kMaxConcurrentDownloads = 4;

// --- Names shared by the coordinator, the worker and the clients ---
// The labels a sweep puts on each of its jobs.
inline constexpr char kSweepLabel[] = "sweep";
inline constexpr char kLossLabel[] = "loss";
inline constexpr char kJobIdPrefix[] = "job-";
inline constexpr char kSweepIdPrefix[] = "sweep-";
// A sweep id's lowercase hex digits after its prefix.
inline constexpr int kSweepIdHexDigits = 12;
// What Job.error of a job whose last attempt was lost (requeued no more) says after that loss.
inline constexpr char kNoAttemptsLeft[] = "; no attempts left of ";
// Job.error of a search trial cancelled between its rungs: it finished its rung, and the
// sweep's report keeps that rung's value.
inline constexpr char kCancelledWhilePaused[] = "cancelled while paused";
// ... and of one whose cancel came as it finished its rung (its result is that rung's).
inline constexpr char kCancelledAtRungEnd[] = "cancelled as it finished its rung";
// The gRPC metadata key of bearer tokens.
inline constexpr char kAuthorizationMetadataKey[] = "authorization";

}  // namespace polytrain

#endif  // POLYTRAIN_API_LIMITS_H_
