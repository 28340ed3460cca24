// The learning rate at a step: linear warm-up, then constant, step decay or cosine decay.
#ifndef POLYTRAIN_WORKER_LR_SCHEDULE_H_
#define POLYTRAIN_WORKER_LR_SCHEDULE_H_

#include <cstdint>

#include "polytrain/v1/job.pb.h"

namespace polytrain {

// `step` counts optimizer steps from 0 over the whole run; `total_steps` is the run's length.
double LearningRateAt(const polytrain::v1::ScheduleSpec& schedule, double peak, int64_t step,
                      int64_t total_steps);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LR_SCHEDULE_H_
