// Deleting a sweep that ended (Coordinator.DeleteSweep): each of its jobs as DeleteJob deletes
// it, then the sweep's record.
#ifndef POLYTRAIN_SERVER_SWEEP_DELETION_H_
#define POLYTRAIN_SERVER_SWEEP_DELETION_H_

#include "absl/status/statusor.h"
#include "polytrain/v1/coordinator.pb.h"
#include "server/artifact_store.h"
#include "server/job_store.h"
#include "server/scheduler.h"

namespace polytrain {

// `record` (as stored; the caller checked that it may delete it) goes with its jobs, their
// histories and checkpoint files (`files` may be null). FAILED_PRECONDITION, nothing deleted,
// while a successive-halving search runs or a job of the sweep has not ended. The record is
// marked as being deleted, then the jobs go, then the record: a coordinator stopped half way
// finishes the deletion when it starts again (FinishSweepDeletions).
absl::StatusOr<polytrain::v1::DeleteSweepResponse> DeleteEndedSweep(
    Scheduler& scheduler, JobStore& store, ArtifactStore* files,
    const polytrain::v1::Sweep& record);

// At start, before serving: finishes every deletion a stop cut short (probe CG: a sweep was left
// with 749 of its 1000 jobs).
absl::Status FinishSweepDeletions(Scheduler& scheduler, JobStore& store, ArtifactStore* files);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_SWEEP_DELETION_H_
