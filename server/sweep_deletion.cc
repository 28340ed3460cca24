#include "server/sweep_deletion.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/job_states.h"
#include "api/loss_search.h"
#include "common/status_macros.h"
#include "server/coordinator_metrics.h"
#include "server/job_retention.h"
#include "server/sweep_report.h"
#include "spdlog/spdlog.h"

namespace polytrain {

using polytrain::v1::Job;
using polytrain::v1::Sweep;

absl::StatusOr<polytrain::v1::DeleteSweepResponse> DeleteEndedSweep(Scheduler& scheduler,
                                                                    JobStore& store,
                                                                    ArtifactStore* files,
                                                                    const Sweep& record) {
  const std::string& id = record.id();
  const bool halving =
      SearchStrategy(record.request()) == polytrain::v1::LossSearch::STRATEGY_SUCCESSIVE_HALVING;
  if (halving && record.state() == Sweep::SWEEP_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "id: sweep ", id, " is running; cancel it first (CancelSweep), or wait for its end"));
  }
  absl::StatusOr<std::vector<Job>> jobs = SweepJobs(store, record);
  if (!jobs.ok()) return jobs.status();
  for (const Job& job : *jobs) {
    if (!IsFinalState(job.state())) {
      // A cancelled sweep's running job stops when its worker hears of the cancel (probe CV:
      // the hint sent the user to the cancel they had just made).
      return absl::FailedPreconditionError(absl::StrCat(
          "id: sweep ", id, " has job ", job.id(), " ", JobStateWord(job.state()),
          record.state() == Sweep::SWEEP_STATE_CANCELLED &&
                  job.state() == polytrain::v1::JOB_STATE_RUNNING
              ? "; the sweep is cancelled and the job is stopping: delete it once the job has ended"
              : "; cancel the sweep first (CancelSweep), or wait for its end"));
    }
  }
  polytrain::v1::DeleteSweepResponse response;
  *response.mutable_deleted() = record;
  // A grid or random search whose jobs all ended is done (as GetSweep answers), even where its
  // record was not marked so yet: marked first, so that DeleteJob takes its trials.
  if (record.state() == Sweep::SWEEP_STATE_RUNNING) {
    POLYTRAIN_RETURN_IF_ERROR(store.SetSweepState(id, Sweep::SWEEP_STATE_DONE));
    // As stored: a cancel that came first keeps CANCELLED.
    absl::StatusOr<Sweep> now = store.GetSweep(id);
    if (!now.ok()) return now.status();
    response.mutable_deleted()->set_state(now->state());
  }
  // Marked before the first job goes: a coordinator stopped in the middle finishes the deletion
  // when it starts again (FinishSweepDeletions), so no sweep stays with part of its jobs.
  POLYTRAIN_RETURN_IF_ERROR(store.MarkSweepDeleting(id));
  for (const Job& job : *jobs) {
    absl::StatusOr<polytrain::v1::DeleteJobResponse> gone =
        DeleteEndedJob(scheduler, files, job.id());
    if (absl::IsNotFound(gone.status())) continue;  // deleted meanwhile
    if (!gone.ok()) return gone.status();
    response.set_jobs(response.jobs() + 1);
    response.set_metric_points(response.metric_points() + gone->metric_points());
    response.set_checkpoint_files(response.checkpoint_files() + gone->checkpoint_files());
  }
  POLYTRAIN_RETURN_IF_ERROR(store.DeleteSweep(id));
  if (CoordinatorMetrics* metrics = scheduler.options().metrics; metrics != nullptr) {
    metrics->SweepDeleted(id);
  }
  spdlog::info("sweep {}: deleted with {} jobs, {} metric points and {} checkpoint files", id,
               response.jobs(), response.metric_points(), response.checkpoint_files());
  return response;
}

absl::Status FinishSweepDeletions(Scheduler& scheduler, JobStore& store, ArtifactStore* files) {
  absl::StatusOr<std::vector<Sweep>> cut_short = store.SweepsBeingDeleted();
  if (!cut_short.ok()) return cut_short.status();
  absl::Status first_failure;
  for (const Sweep& record : *cut_short) {
    spdlog::info("sweep {}: finishing its deletion, which a stop of the coordinator cut short",
                 record.id());
    absl::StatusOr<polytrain::v1::DeleteSweepResponse> deleted =
        DeleteEndedSweep(scheduler, store, files, record);
    if (!deleted.ok() && first_failure.ok()) {  // the others are still finished
      first_failure =
          absl::Status(deleted.status().code(),
                       absl::StrCat("sweep ", record.id(), ": ", deleted.status().message()));
    }
  }
  return first_failure;
}

}  // namespace polytrain
