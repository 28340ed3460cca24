// What sets two jobs' training apart beyond their loss and seed: CompareJobs pools each loss's
// runs and tests the losses against each other as if nothing else differed, which holds for a
// sweep's jobs (one base spec) but not for jobs picked by id.
#ifndef POLYTRAIN_SERVER_TRAINING_SETUP_DIFF_H_
#define POLYTRAIN_SERVER_TRAINING_SETUP_DIFF_H_

#include <string>
#include <vector>

#include "polytrain/v1/job.pb.h"

namespace polytrain {

// The JobSpec fields ("spec.optimizer", "spec.batch_size", ...) whose values differ between `a`
// and `b`, in field order, among those that change what is trained and how: every field but the
// name, labels, loss, seed and what only decides where, when and how often a job runs, reports
// or is evaluated (device, threads, priority, attempts, time limit, logging, evaluation,
// checkpoints, replicas, determinism). A constant schedule without warm-up is no schedule.
// same_steps_trained: both jobs trained to their end the same number of steps, so how the
// budget was written (epochs, max_steps) made no difference.
std::vector<std::string> TrainingSetupDifferences(const polytrain::v1::JobSpec& a,
                                                  const polytrain::v1::JobSpec& b,
                                                  bool same_steps_trained = false);

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_TRAINING_SETUP_DIFF_H_
