// ServiceJob, part: an attempt's set-up before the trainer is made: where its checkpoints go
// (with the stored one fetched there, so that a requeued job resumes where its earlier attempt's
// upload left it), each checkpoint it writes uploaded, a search trial's pause, its reports.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_files.h"
#include "worker/service_job.h"
#include "worker/streaming_sink.h"
#include "worker/trainer.h"

namespace polytrain {

using polytrain::v1::WorkerMessage;

absl::Status ServiceJob::PrepareAttempt(StreamingSink* sink, std::string* uploaded,
                                        TrainerOptions* options, std::string* attempt_dir) {
  auto upload = [this, uploaded, sink](const std::string& path) {
    // The points up to this checkpoint are stored first: once the coordinator names it, a new
    // attempt resumes after them and never sends them again. Not stored soon (the coordinator
    // is away, and the upload would fail too): this checkpoint is not uploaded; a later one is.
    if (const uint64_t points = sink->Flush();
        points > 0 && !context_.outbox->WaitAcknowledged(points, kPointsBeforeCheckpoint)) {
      spdlog::warn(
          "{}: not uploading {}: the coordinator has not stored the metric points "
          "before it",
          job_.id(), path);
      return;
    }
    if (absl::Status s = context_.artifacts->Upload(job_.id(), job_.attempts(), path); !s.ok()) {
      spdlog::warn("{}: uploading {}: {}", job_.id(), path, std::string(s.message()));
    } else {
      spdlog::debug("{}: checkpoint {} stored by the coordinator", job_.id(), path);
      *uploaded = path;
    }
  };
  const bool gang = context_.world_size > 1;
  absl::Status fetch_failure;
  // A requeued job resumes from the checkpoint its earlier attempt uploaded, wherever that
  // attempt ran; every checkpoint this attempt writes is uploaded in turn. One rank of a gang
  // starting from scratch would split the gang: the attempt is given up instead (and requeued).
  auto fetch_stored_checkpoint = [&](const std::string& dir) {
    if (job_.checkpoint().empty()) return;
    if (absl::Status s = FetchStoredCheckpoint(dir); !s.ok() && gang) {
      fetch_failure = absl::UnavailableError(absl::StrCat(
          "rank ", context_.rank, " could not fetch ", job_.checkpoint(), ": ", s.message()));
    } else if (!s.ok()) {
      spdlog::warn("{}: starting from scratch: {}", job_.id(), std::string(s.message()));
    }
  };
  options->data_root = context_.data_root;
  options->max_threads = context_.max_threads;
  options->cuda_device = context_.cuda_device;
  if (!context_.checkpoint_root.empty()) {
    options->checkpoint_dir = context_.checkpoint_root + "/" + job_.id();
    options->resume = true;  // continue from the newest checkpoint there
    // Every rank of a gang must resume from the same step: from the stored checkpoint alone,
    // never from one an earlier attempt left here and the coordinator never got.
    if (gang) {
      std::error_code ignored;
      std::filesystem::remove_all(options->checkpoint_dir, ignored);
    } else {
      // Nor does a lone job resume from one the coordinator never stored: the metric points
      // before it may have died with an earlier run of this worker (held while the coordinator
      // was away), and the job's history would have a gap.
      for (const std::string& name :
           DeleteCheckpointsAfter(options->checkpoint_dir, job_.checkpoint())) {
        spdlog::warn("{}: not resuming from {}: the coordinator never stored it", job_.id(), name);
      }
    }
    fetch_stored_checkpoint(options->checkpoint_dir);
    options->on_checkpoint = upload;
  }
  // A search trial pauses at its rung and is resumed (perhaps elsewhere) from the checkpoint it
  // uploads then.
  if (job_.has_search()) {
    options->pause_at_epoch = job_.search().pause_at_epoch();
    options->pause_at_step = job_.search().pause_at_step();
    if (job_.search().rung() > 0 && job_.checkpoint().empty()) {
      spdlog::warn(
          "{}: no checkpoint was stored at its last rung: the trial trains from the "
          "start again",
          job_.id());
    }
  }
  // Without a checkpoint root, the attempt gets a directory of its own: its checkpoints (the
  // spec's cadence, and always the last) still go to the coordinator, so that the trained model
  // can be downloaded (DownloadCheckpoint), a requeued attempt resumes from them, and a search
  // trial from its rung.
  if (options->checkpoint_dir.empty()) {
    std::error_code error;
    *attempt_dir = MakeAttemptDir(std::filesystem::temp_directory_path(error).string(), job_.id());
    if (attempt_dir->empty()) {
      spdlog::warn(
          "{}: no directory for its checkpoints in the temporary directory ({}): none "
          "are written",
          job_.id(), std::strerror(errno));
    }
  }
  if (!attempt_dir->empty()) {
    options->checkpoint_dir = *attempt_dir;
    options->resume = true;
    options->checkpoints_best_effort = true;
    fetch_stored_checkpoint(*attempt_dir);
    options->on_checkpoint = upload;
  }
  options->cancel = &cancel_;
  options->release = &released_;
  options->sink = sink;
  options->on_start = [this](int64_t step) {
    WorkerMessage started;
    started.mutable_started()->set_job_id(job_.id());
    started.mutable_started()->set_attempt(job_.attempts());
    started.mutable_started()->set_resumed_from_step(step);
    context_.outbox->Enqueue(std::move(started));
  };
  if (gang && context_.metrics != nullptr) {
    // Each rank's own step time and throughput on its worker's /metrics (the job's samples/s,
    // on the coordinator's, is their sum).
    options->on_replica_window = [this](double step_seconds, double allreduce_seconds,
                                        double samples_per_second) {
      context_.metrics->ReplicaWindow(job_.id(), context_.rank, step_seconds, allreduce_seconds);
      context_.metrics->TrainingProgress(job_.id(), step_seconds, samples_per_second);
    };
  }
  return fetch_failure;
}

}  // namespace polytrain
