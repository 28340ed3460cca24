// ServiceJob, part: an attempt's end after training: its last checkpoint stored, how it ended
// (the step it stopped at, where its next attempt resumes), its report to the coordinator, the
// checkpoints it no longer needs removed, and a line on the worker's log.
#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "api/worker_messages.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_files.h"
#include "worker/service_job.h"
#include "worker/trainer.h"

namespace polytrain {
namespace {

using polytrain::v1::WorkerMessage;

constexpr char kNotCheckpointedThere[] =
    " with no checkpoint stored there: the next attempt resumes from the last one stored";

}  // namespace

bool ServiceJob::StoreLastCheckpoint(const TrainingSummary& summary, uint64_t points,
                                     const std::string& uploaded) {
  for (const std::string& why : summary.passed_over_checkpoints) {
    spdlog::warn("{}: passed over {}", job_.id(), why);
  }
  for (const std::string& why : summary.checkpoint_failures) {
    spdlog::warn("{}: no checkpoint written (the job goes on): {}", job_.id(), why);
  }
  // The final checkpoint goes to the coordinator's artifact store before the job is reported
  // done, retried while the coordinator is away (restarting): the job's record names it, and a
  // paused trial resumes from it (perhaps on another worker). An upload that still fails is
  // logged; the job still succeeded. Checkpoints during training are tried once each (the
  // next one supersedes a failed one), so an outage never stalls the training. A released
  // job's checkpoint is where its next attempt resumes.
  if (summary.last_checkpoint.empty() || summary.last_checkpoint == uploaded) return true;
  // As during training: the points before the checkpoint are stored before it is named. A
  // released job's worker is about to exit, its unacknowledged points with it: its checkpoint
  // goes only once they are stored, within the drain's time (else the next attempt would resume
  // after points nobody has).
  const bool points_stored =
      points == 0 ||
      context_.outbox->WaitAcknowledged(
          points, summary.released ? kPointsBeforeCheckpoint : kPointsBeforeLastCheckpoint);
  if (points_stored || !summary.released) {
    return UploadLastCheckpoint(summary.last_checkpoint, summary.paused);
  }
  spdlog::warn("{}: not uploading {}: the coordinator has not stored the metric points before it",
               job_.id(), summary.last_checkpoint);
  return false;
}

ServiceJob::Ending ServiceJob::EndingOf(const absl::StatusOr<TrainingSummary>& summary,
                                        int64_t last_step, bool last_checkpoint_stored,
                                        bool no_room) const {
  Ending ending;
  ending.last_checkpoint_stored = last_checkpoint_stored;
  ending.no_room = no_room;
  // The step the attempt was to resume from (0: from scratch), and where it stopped: before its
  // first step (loading, joining its gang), there, as a failed attempt's steps are at least that
  // (probe DD: "at step 0"). Its next attempt resumes there only when it trained no step, or a
  // checkpoint there was written and stored: else (a full disk, a cut-off drain, a gang's rank)
  // from the last one stored before, which a log that names the step must not hide.
  ending.resume_step =
      CheckpointStep(std::filesystem::path(job_.checkpoint()).filename().string()).value_or(0);
  ending.stopped_at = summary.ok() ? summary->steps : std::max(last_step, ending.resume_step);
  ending.resumes_here =
      ending.stopped_at == ending.resume_step ||
      (summary.ok() && !summary->release_checkpoint_failed && last_checkpoint_stored);
  // Cancelled only when the coordinator asked (a transfer it cut is also CANCELLED, but no
  // cancel of the job's: that attempt failed).
  ending.cancelled = !summary.ok() && !released_.load() && !let_go_.load() && cancel_.load() &&
                     summary.status().code() == absl::StatusCode::kCancelled;
  return ending;
}

WorkerMessage ServiceJob::Report(const absl::StatusOr<TrainingSummary>& summary,
                                 const Ending& ending, const std::string& attempt_dir) const {
  WorkerMessage result;
  if (summary.ok() && !summary->released) {
    auto* finished = result.mutable_finished();
    finished->set_job_id(job_.id());
    finished->set_attempt(job_.attempts());
    finished->mutable_final_metrics()->insert(summary->final_metrics.begin(),
                                              summary->final_metrics.end());
    finished->set_steps(summary->steps);
    finished->set_seconds(summary->seconds);
    finished->set_resumed_from_step(summary->resumed_from_step);
    finished->set_paused(summary->paused);
    return result;
  }
  auto* failed = result.mutable_failed();
  failed->set_job_id(job_.id());
  failed->set_attempt(job_.attempts());
  failed->set_steps(ending.stopped_at);
  failed->set_worker_exits(released_.load());  // a drain's release: the process ends next
  if (summary.ok()) {                          // released, at a checkpoint
    failed->set_error(absl::StrCat("given back at step ", summary->steps,
                                   ending.resumes_here ? "" : kNotCheckpointedThere));
    failed->set_released(true);
    return result;
  }
  // Valid UTF-8 of a bounded length whatever LibTorch or a user's file put in it (the
  // coordinator refuses a message that is not, and it would go again forever), and the worker's
  // directories left out: a checkpoint reads as "job-x/ckpt-..." (the coordinator's).
  failed->set_error(CutError(WithoutCheckpointDirs(std::string(summary.status().message()),
                                                   {attempt_dir, context_.checkpoint_root})));
  failed->set_released(released_.load() || let_go_.load() || ending.no_room);
  failed->set_cancelled(ending.cancelled);
  failed->set_gang_lost(context_.world_size > 1 &&
                        summary.status().code() == absl::StatusCode::kUnavailable);
  return result;
}

void ServiceJob::RemoveSpentCheckpoints(const absl::StatusOr<TrainingSummary>& summary,
                                        const Ending& ending, const std::string& checkpoint_dir,
                                        const std::string& attempt_dir) const {
  std::error_code ignored;
  if (!attempt_dir.empty()) {
    std::filesystem::remove_all(attempt_dir, ignored);
    return;
  }
  // The job's checkpoints here only spare a download of what the coordinator stored: once the
  // job has ended for good (succeeded with its last checkpoint stored, or cancelled) they go, or
  // --checkpoint_dir would grow with every job ever run; so do a search trial's once it pauses
  // at its rung with its checkpoint stored (it resumes from the coordinator's copy if promoted).
  const bool ended_here = summary.ok() && !summary->released;  // succeeded, or paused
  if (!checkpoint_dir.empty() &&
      ((ended_here && ending.last_checkpoint_stored) || ending.cancelled)) {
    std::filesystem::remove_all(checkpoint_dir, ignored);
  }
}

void ServiceJob::LogEnding(const WorkerMessage& result,
                           const absl::StatusOr<TrainingSummary>& summary,
                           const Ending& ending) const {
  if (result.has_finished()) {
    spdlog::info("{}: attempt {} {} at step {} after {:.1f} s", job_.id(), job_.attempts(),
                 summary->paused ? "paused at its rung" : "finished", summary->steps,
                 summary->seconds);
  } else if (ending.no_room) {
    spdlog::warn("{}: attempt {} given back: {}", job_.id(), job_.attempts(),
                 result.failed().error());
  } else if (result.failed().released()) {
    spdlog::info("{}: attempt {} given back at step {}{}", job_.id(), job_.attempts(),
                 result.failed().steps(), ending.resumes_here ? "" : kNotCheckpointedThere);
  } else if (ending.cancelled) {  // a resumed attempt still loading has trained no step yet
    spdlog::info("{}: attempt {} cancelled {}", job_.id(), job_.attempts(),
                 ending.stopped_at == ending.resume_step
                     ? std::string("before its first step")
                     : absl::StrCat("at step ", ending.stopped_at));
  } else {
    spdlog::warn("{}: attempt {} failed at step {}: {}", job_.id(), job_.attempts(),
                 result.failed().steps(), result.failed().error());
  }
}

}  // namespace polytrain
