#include "api/worker_messages.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "api/artifacts.h"
#include "api/client_requests.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/utf8_text.h"
#include "common/validation.h"

namespace polytrain {
namespace {

// What a value's name says it is (the trainer's names; others are taken as they come): a
// fraction, or a measure that is never negative.
enum class ValueMeaning { kAny, kFraction, kNonNegative };

ValueMeaning MeaningOf(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "eval_")) absl::ConsumePrefix(&name, "val_");
  if (absl::StartsWith(name, "class_accuracy/")) return ValueMeaning::kFraction;
  for (absl::string_view fraction : {"accuracy", "ece", "exact_match", "f1"}) {
    if (name == fraction) return ValueMeaning::kFraction;
  }
  for (absl::string_view measure :
       {"nll", "learning_rate", "samples_per_second", "grad_norm", "gpu_memory_peak_bytes",
        "allreduce_seconds_per_step", "allreduce_bytes_per_step"}) {
    if (name == measure) return ValueMeaning::kNonNegative;
  }
  return ValueMeaning::kAny;
}

// `finite`: every value must be finite (a result; a point's value, e.g. a gradient norm that
// overflowed, may not be).
absl::Status CheckMetricValues(absl::string_view field,
                               const google::protobuf::Map<std::string, double>& values,
                               bool finite = false) {
  if (values.size() > static_cast<size_t>(kMaxValuesPerPoint)) {
    return InvalidField(
        field, absl::StrCat("at most ", kMaxValuesPerPoint, " values, got ", values.size()));
  }
  for (const auto& [name, value] : values) {
    POLYTRAIN_RETURN_IF_ERROR(
        CheckLength(absl::StrCat(field, "[", EscapedText(Utf8Prefix(name, 32)), "]"), name, 1,
                    kMaxValueNameLength));
    // Names reach terminals (polyctl get, metrics as CSV): no control character, C0 or C1
    // (U+0080..U+009F, which some terminals take as escapes too).
    for (size_t i = 0; i < name.size(); ++i) {
      const unsigned char byte = static_cast<unsigned char>(name[i]);
      const bool c1 = byte == 0xc2 && i + 1 < name.size() &&
                      static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                      static_cast<unsigned char>(name[i + 1]) <= 0x9f;
      if (byte < 0x20 || byte == 0x7f || c1) {
        return InvalidField(
            absl::StrCat(field, "[", EscapedText(Utf8Prefix(name, 32)), "]"),
            absl::StrCat("a value's name must not hold a control character (at byte offset ", i,
                         ")"));
      }
    }
    if (finite && !std::isfinite(value)) {
      return InvalidField(absl::StrCat(field, "[", EscapedText(name), "]"),
                          absl::StrCat("must be finite, got ", value));
    }
    // A finite value its name rules out would reach rankings and comparisons (probe CK: an
    // eval_accuracy of 1e300 ranked first).
    const ValueMeaning meaning = MeaningOf(name);
    if (std::isfinite(value) && ((meaning == ValueMeaning::kFraction && (value < 0 || value > 1)) ||
                                 (meaning == ValueMeaning::kNonNegative && value < 0))) {
      return InvalidField(
          absl::StrCat(field, "[", EscapedText(name), "]"),
          absl::StrCat(
              meaning == ValueMeaning::kFraction ? "must be a fraction in [0, 1]" : "must be >= 0",
              ", got ", ExactNumber(value)));
    }
  }
  return absl::OkStatus();
}

// The jobs a worker claims (running, or with a result not yet acknowledged): each a job id, a
// bounded number of them.
absl::Status ValidateClaims(const std::string& field,
                            const google::protobuf::RepeatedPtrField<std::string>& ids) {
  if (ids.size() > kMaxClaimedJobs) {
    return InvalidField(field,
                        absl::StrCat("at most ", kMaxClaimedJobs, " jobs, got ", ids.size()));
  }
  for (int i = 0; i < ids.size(); ++i) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateJobId(IndexPath(field, i), ids.Get(i)));
  }
  return absl::OkStatus();
}

// A duration a worker measured: finite, not negative, and under 1e9 s (31 years).
absl::Status CheckSeconds(const std::string& field, double seconds) {
  if (std::isfinite(seconds) && seconds >= 0 && seconds <= 1e9) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("must be in [0, 1e9], got ", ExactNumber(seconds)));
}

}  // namespace

absl::Status ValidateWorkerName(absl::string_view field, absl::string_view name) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, name, 1, kMaxWorkerNameLength));
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return InvalidField(field, "use only [A-Za-z0-9._-]");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateHello(const polytrain::v1::Hello& hello) {
  POLYTRAIN_RETURN_IF_ERROR(ValidateWorkerName("hello.name", hello.name()));
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("hello.slots", hello.slots(), 0, kMaxSlots));
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("hello.version", hello.version(), 0, kMaxWorkerNameLength));
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("hello.threads", hello.threads(), 0, kMaxWorkerThreads));
  if (hello.devices_size() > kMaxWorkerDevices) {
    return InvalidField("hello.devices", absl::StrCat("at most ", kMaxWorkerDevices,
                                                      " devices, got ", hello.devices_size()));
  }
  for (int i = 0; i < hello.devices_size(); ++i) {
    const std::string& device = hello.devices(i);
    bool plain = !device.empty() && device.size() <= 16;
    for (char c : device) plain = plain && (absl::ascii_islower(c) || absl::ascii_isdigit(c));
    if (!plain) {
      return InvalidField(IndexPath("hello.devices", i),
                          absl::StrCat("a device is 1 to 16 of [a-z0-9], got ", Quote(device)));
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckLength("hello.previous_session_key", hello.previous_session_key(),
                                        0, kMaxSessionKeyLength));
  return ValidateClaims("hello.running_job_ids", hello.running_job_ids());
}

absl::Status ValidateMetricBatch(const polytrain::v1::MetricBatch& batch) {
  if (batch.points_size() > kMaxPointsPerBatch) {
    return InvalidField("metrics.points",
                        absl::StrCat("at most ", kMaxPointsPerBatch, " points per batch, got ",
                                     batch.points_size()));
  }
  for (int i = 0; i < batch.points_size(); ++i) {
    const auto& point = batch.points(i);
    const std::string path = IndexPath("metrics.points", i);
    POLYTRAIN_RETURN_IF_ERROR(
        CheckIntRange(absl::StrCat(path, ".step"), point.step(), 0, kMaxSteps));
    if (point.kind() != polytrain::v1::MetricPoint::KIND_TRAIN &&
        point.kind() != polytrain::v1::MetricPoint::KIND_EVAL) {
      return InvalidField(absl::StrCat(path, ".kind"),
                          absl::StrCat("must be KIND_TRAIN or KIND_EVAL, got ", point.kind()));
    }
    POLYTRAIN_RETURN_IF_ERROR(
        CheckIntRange(absl::StrCat(path, ".epoch"), point.epoch(), 0, kMaxSteps));
    // Written so that NaN, which fails every comparison, is refused.
    if (!(point.epoch_progress() >= 0 && point.epoch_progress() <= 1)) {
      return InvalidField(absl::StrCat(path, ".epoch_progress"),
                          absl::StrCat("must be in [0, 1], got ", point.epoch_progress()));
    }
    POLYTRAIN_RETURN_IF_ERROR(
        CheckSeconds(absl::StrCat(path, ".elapsed_seconds"), point.elapsed_seconds()));
    POLYTRAIN_RETURN_IF_ERROR(CheckMetricValues(absl::StrCat(path, ".values"), point.values()));
  }
  return absl::OkStatus();
}

absl::Status ValidateWorkerMessage(const polytrain::v1::WorkerMessage& message) {
  // Every report names the attempt it belongs to (Job.attempts, from 1): one for another
  // attempt is ignored, so an unset one must not pass for the current attempt.
  auto attempt = [](const char* field, int32_t value) {
    return CheckIntRange(field, value, 1, kMaxAttemptNumber);
  };
  switch (message.kind_case()) {
    case polytrain::v1::WorkerMessage::kMetrics:
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("metrics.job_id", message.metrics().job_id()));
      POLYTRAIN_RETURN_IF_ERROR(attempt("metrics.attempt", message.metrics().attempt()));
      return ValidateMetricBatch(message.metrics());
    case polytrain::v1::WorkerMessage::kStarted:
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("started.job_id", message.started().job_id()));
      POLYTRAIN_RETURN_IF_ERROR(attempt("started.attempt", message.started().attempt()));
      return CheckIntRange("started.resumed_from_step", message.started().resumed_from_step(), 0,
                           kMaxSteps);
    case polytrain::v1::WorkerMessage::kFinished: {
      const polytrain::v1::JobFinished& finished = message.finished();
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("finished.job_id", finished.job_id()));
      POLYTRAIN_RETURN_IF_ERROR(attempt("finished.attempt", finished.attempt()));
      POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("finished.steps", finished.steps(), 0, kMaxSteps));
      POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("finished.resumed_from_step",
                                              finished.resumed_from_step(), 0, finished.steps()));
      POLYTRAIN_RETURN_IF_ERROR(CheckSeconds("finished.seconds", finished.seconds()));
      return CheckMetricValues("finished.final_metrics", finished.final_metrics(),
                               /*finite=*/true);
    }
    case polytrain::v1::WorkerMessage::kRendezvous:
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("rendezvous.job_id", message.rendezvous().job_id()));
      POLYTRAIN_RETURN_IF_ERROR(attempt("rendezvous.attempt", message.rendezvous().attempt()));
      return ValidateRendezvousAddress("rendezvous.address", message.rendezvous().address());
    case polytrain::v1::WorkerMessage::kFailed:
      POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("failed.job_id", message.failed().job_id()));
      POLYTRAIN_RETURN_IF_ERROR(attempt("failed.attempt", message.failed().attempt()));
      return CheckIntRange("failed.steps", message.failed().steps(), 0, kMaxSteps);
    case polytrain::v1::WorkerMessage::kHeartbeat:
      return ValidateClaims("heartbeat.running_job_ids", message.heartbeat().running_job_ids());
    case polytrain::v1::WorkerMessage::kHello:
      return absl::OkStatus();
    case polytrain::v1::WorkerMessage::KIND_NOT_SET:
      break;
  }
  return InvalidField("kind", "empty worker message");
}

absl::Status ValidateRendezvousAddress(absl::string_view field, absl::string_view address) {
  POLYTRAIN_RETURN_IF_ERROR(CheckLength(field, address, 1, kMaxRendezvousAddressLength));
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return InvalidField(field, "must be host:port");
  }
  for (char c : address.substr(0, colon)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
    if (!ok) return InvalidField(field, "the host uses only [A-Za-z0-9.:_[]-]");
  }
  int port = 0;
  const absl::string_view digits = address.substr(colon + 1);
  bool numeric = !digits.empty() && digits.size() <= 5;
  for (char c : digits) {
    numeric = numeric && c >= '0' && c <= '9';
    if (numeric) port = port * 10 + (c - '0');
  }
  if (!numeric || port < 1 || port > 65535) {
    return InvalidField(field, "the port must be a number in [1, 65535]");
  }
  return absl::OkStatus();
}

std::string CutError(const std::string& error, size_t max_length) {
  // Control characters but line breaks and tabs as \xNN: an error from a worker goes into the
  // coordinator's log and onto users' terminals, where an escape sequence or a carriage return
  // would act, not read (a fuzzed worker's NUL bytes made the log a binary file).
  std::string valid;
  for (const char c : ToValidUtf8(error)) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\n' && c != '\t') || byte == 0x7f) {
      absl::StrAppendFormat(&valid, "\\x%02x", byte);
    } else {
      valid.push_back(c);
    }
  }
  if (valid.size() <= max_length) return valid;
  return absl::StrCat(Utf8Prefix(valid, max_length), kCutMark);
}

absl::Status ValidateArtifactName(absl::string_view field, absl::string_view name) {
  if (name.size() > static_cast<size_t>(kMaxArtifactNameLength)) {  // said as other lengths are
    return CheckLength(field, name, 1, kMaxArtifactNameLength);
  }
  bool allowed_chars = !name.empty();
  for (char c : name) {
    allowed_chars = allowed_chars && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  }
  // Names of our own files (".checksums", a store's temporaries) start with '.': said where that
  // is all that is wrong.
  const bool hidden = allowed_chars && name[0] == '.';
  if (allowed_chars && !hidden) return absl::OkStatus();
  return InvalidField(
      field, absl::StrCat("not a file name: ", Quote(name), hidden ? " (it starts with '.')" : ""));
}

absl::Status ValidateUploadedName(absl::string_view field, absl::string_view name) {
  // The store's own temporary files hold this marker: a name with it would be taken for one
  // and deleted at the next start.
  if (absl::StrContains(name, kUploadMarker)) {
    return InvalidField(field,
                        absl::StrCat("must not contain '", kUploadMarker, "', got ", Quote(name)));
  }
  // Checkpoints are kept and fallen back on in name order, which is step order only in this form.
  if (absl::StartsWith(name, kCheckpointPrefix)) {
    bool numbered = name.size() == sizeof(kCheckpointPrefix) - 1 + kCheckpointStepDigits + 3 &&
                    absl::EndsWith(name, ".pt");
    for (size_t i = sizeof(kCheckpointPrefix) - 1; numbered && i < name.size() - 3; ++i) {
      numbered = absl::ascii_isdigit(static_cast<unsigned char>(name[i]));
    }
    if (!numbered) {
      return InvalidField(field,
                          absl::StrCat("a checkpoint is named ", kCheckpointPrefix, "<",
                                       kCheckpointStepDigits, " digits>.pt, got ", Quote(name)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStepInBudget(absl::string_view field, int64_t step,
                               const polytrain::v1::JobSpec& spec) {
  if (spec.max_steps() == 0) return CheckIntRange(field, step, 0, kMaxSteps);
  if (step >= 0 && step <= spec.max_steps()) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("must be in [0, ", spec.max_steps(),
                                          "] (the job's spec.max_steps), got ", step));
}

std::optional<int64_t> CheckpointStep(absl::string_view name) {
  int64_t step = 0;
  if (!ValidateUploadedName("name", name).ok() || !absl::StartsWith(name, kCheckpointPrefix) ||
      !absl::SimpleAtoi(
          name.substr(absl::string_view(kCheckpointPrefix).size(), kCheckpointStepDigits), &step)) {
    return std::nullopt;
  }
  return step;
}

absl::string_view CheckpointName(absl::string_view path) {
  const size_t slash = path.find('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

absl::Status ValidateArtifactChunk(const polytrain::v1::ArtifactChunk& chunk, bool first) {
  if (first) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateJobId("job_id", chunk.job_id()));
    POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactName("job_id", chunk.job_id()));
    POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactName("name", chunk.name()));
    POLYTRAIN_RETURN_IF_ERROR(ValidateUploadedName("name", chunk.name()));
    // As every report names it (Job.attempts, from 1).
    POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("attempt", chunk.attempt(), 1, kMaxAttemptNumber));
    if (!absl::StartsWith(chunk.name(), kCheckpointPrefix)) {
      return InvalidField(
          "name", absl::StrCat("a worker stores only checkpoints (", kCheckpointPrefix, "<",
                               kCheckpointStepDigits, " digits>.pt), got ", Quote(chunk.name())));
    }
  } else {
    // As Coordinator.UploadArtifact refuses it: a later chunk naming another file would be
    // stored under the first one's name without a word.
    for (const auto& [field, set] :
         {std::pair<const char*, bool>{"job_id", !chunk.job_id().empty()},
          {"attempt", chunk.attempt() != 0},
          {"name", !chunk.name().empty()},
          {"session_key", !chunk.session_key().empty()}}) {
      if (set) return InvalidField(field, "set on the first chunk only");
    }
  }
  if (chunk.data().size() > kArtifactChunkBytes) {
    return InvalidField(
        "data", absl::StrCat("chunks are at most 1 MiB, got ", chunk.data().size(), " bytes"));
  }
  if (!chunk.last() && (chunk.size() != 0 || chunk.crc32() != 0)) {
    // Said on a chunk that is not the last, they would be ignored: a sender that means them
    // learns it did not mark the end.
    return InvalidField(chunk.size() != 0 ? "size" : "crc32",
                        "set on the last chunk only (the one with last: true)");
  }
  if (chunk.last() && (chunk.size() < 0 || chunk.size() > kMaxArtifactBytes)) {
    return InvalidField(
        "size", absl::StrCat("must be in [0, ", kMaxArtifactBytes, "], got ", chunk.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateArtifactPath(absl::string_view field, absl::string_view path) {
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) {
    return InvalidField(field, absl::StrCat("expected <job_id>/<name>, got ", Quote(path)));
  }
  // The whole path is quoted: "/etc/passwd" was refused as "not a file name: ''".
  if (!ValidateArtifactName(field, path.substr(0, slash)).ok() ||
      !ValidateArtifactName(field, path.substr(slash + 1)).ok()) {
    return InvalidField(
        field, absl::StrCat("expected <job_id>/<name> of two plain file names, got ", Quote(path)));
  }
  // A stored file is read by its id: sha256/<64 lowercase hex digits>.
  if (path.substr(0, slash) == "sha256" &&
      !ValidateArtifactId(field, ArtifactIdOfHex(path.substr(slash + 1))).ok()) {
    return InvalidField(field, absl::StrCat("expected sha256/<64 lowercase hex digits> for a "
                                            "stored file, got ",
                                            Quote(path)));
  }
  return absl::OkStatus();
}

absl::Status ValidateDownloadArtifactRequest(
    const polytrain::v1::DownloadArtifactRequest& request) {
  return ValidateArtifactPath("path", request.path());
}

}  // namespace polytrain
