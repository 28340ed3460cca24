// Trainer, part: its evaluations (the test split and, when there is one, the validation split)
// and their metric points.
#include "api/job_spec_defaults.h"
#include "worker/evaluation.h"
#include "worker/trainer.h"

namespace polytrain {

using polytrain::v1::MetricPoint;

std::map<std::string, double> Trainer::EvaluateAll() {
  EvalOptions options{EvalBatchSize(spec_), CalibrationBins(spec_), device_, spec_.precision(),
                      loss_.config().reduction};
  std::map<std::string, double> values =
      Evaluate(*model_, data_.test, data_.classes, per_sample_loss_, options, "eval_");
  if (data_.validation.size() > 0) {
    for (auto& [key, value] :
         Evaluate(*model_, data_.validation, data_.classes, per_sample_loss_, options, "val_")) {
      values[key] = value;
    }
  }
  return values;
}

void Trainer::EmitEval(const RunPosition& position, double elapsed,
                       const std::map<std::string, double>& values) {
  if (options_.sink == nullptr) return;
  MetricPoint point;
  point.set_kind(MetricPoint::KIND_EVAL);
  point.set_step(position.step);
  point.set_epoch(static_cast<int32_t>(position.EpochOfLastStep()));
  point.set_epoch_progress(position.batch_in_epoch == 0 && position.epoch > 0
                               ? 1.0
                               : static_cast<double>(position.batch_in_epoch) / steps_per_epoch_);
  point.set_elapsed_seconds(elapsed);
  for (const auto& [key, value] : values) (*point.mutable_values())[key] = value;
  options_.sink->Emit(point);
}

}  // namespace polytrain
