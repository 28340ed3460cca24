// What a standalone run (polytrain-worker --spec) prints on stdout when it ends: how far it got,
// its throughput, its final evaluation and its last checkpoint.
#ifndef POLYTRAIN_WORKER_RUN_SUMMARY_H_
#define POLYTRAIN_WORKER_RUN_SUMMARY_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "worker/trainer.h"

namespace polytrain {

// `ended`: "finished", "stopped", "stopped by SIGINT", ...; `allocator`: the malloc tuning in
// force (common/allocator.h). Epochs are counted from `steps_per_epoch`: whole ones, or "0.64
// epochs" for a run cut by max_steps.
void PrintRunSummary(std::FILE* out, const std::string& job_name, const std::string& ended,
                     const TrainingSummary& summary, int64_t steps_per_epoch,
                     const std::string& allocator);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_RUN_SUMMARY_H_
