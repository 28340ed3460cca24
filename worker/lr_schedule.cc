#include "worker/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace polytrain {

double LearningRateAt(const polytrain::v1::ScheduleSpec& schedule, double peak, int64_t step,
                      int64_t total_steps) {
  const int64_t warmup = schedule.warmup_steps();
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t t = step - warmup;  // steps since the warm-up ended
  switch (schedule.kind_case()) {
    case polytrain::v1::ScheduleSpec::kStep:
      return peak * std::pow(schedule.step().gamma(),
                             static_cast<double>(t / schedule.step().step_size()));
    case polytrain::v1::ScheduleSpec::kCosine: {
      const int64_t span = std::max<int64_t>(1, total_steps - warmup - 1);
      const double progress = std::min(1.0, static_cast<double>(t) / static_cast<double>(span));
      const double floor = peak * schedule.cosine().min_factor();
      return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
    }
    case polytrain::v1::ScheduleSpec::kConstant:
    case polytrain::v1::ScheduleSpec::KIND_NOT_SET:
      break;
  }
  return peak;
}

}  // namespace polytrain
