// A standalone run's best checkpoint by spec.checkpoint.keep_best_by, kept in its
// --checkpoint_dir beside the keep_last newest, as the coordinator keeps a service job's: a
// checkpoint taken at a step that evaluated is scored by that evaluation, whichever of the two
// came first (the run's last step may hit the checkpoint cadence and not the evaluation's: its
// checkpoint is written before the final evaluation). The best so far is recorded in
// <dir>/best_checkpoint.txtpb (a BestCheckpoint whose path is the file's name), so that a
// --resume goes on with it. No LibTorch here.
#ifndef POLYTRAIN_WORKER_BEST_CHECKPOINT_H_
#define POLYTRAIN_WORKER_BEST_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "polytrain/v1/job_record.pb.h"

namespace polytrain {

inline constexpr char kBestCheckpointRecord[] = "best_checkpoint.txtpb";

class BestCheckpointKeeper {
 public:
  // `dir` empty: touches nothing. `metric` empty: keeps and records nothing (Start removes an
  // earlier run's record).
  BestCheckpointKeeper(std::string dir, std::string metric, int keep_last);

  // The run starts at `step` (0: from scratch; else the checkpoint it resumed from). An earlier
  // run's record goes on where it names this metric, a checkpoint's name with its step and a
  // finite value, a step at or before `step` (one past it scored a history this run replaces)
  // and a file that is still there; otherwise it is removed, saying why.
  void Start(int64_t step);
  // The run evaluated at `step`.
  void Evaluated(int64_t step, const std::map<std::string, double>& metrics);
  // The run wrote the checkpoint at `path` for `step`.
  void Saved(const std::string& path, int64_t step);

  // The best so far (path: its file name); empty when none is scored.
  const polytrain::v1::BestCheckpoint& best() const { return best_; }
  // Its file name, for the pruning of older checkpoints to spare; "" when none.
  const std::string& file_name() const { return best_.path(); }

 private:
  // Scores the checkpoint of `step` (its file `name`) by the evaluation at that step, when both
  // are known; a better score is recorded and the former best pruned if it is not a newest one.
  void Score();
  void Record();
  // Takes the record at `record` as the best so far if it holds for a run starting at `step`;
  // otherwise says why not.
  std::string Continues(const std::filesystem::path& record, int64_t step);

  const std::string dir_;
  const std::string metric_;
  const int keep_last_;
  polytrain::v1::BestCheckpoint best_;
  int64_t evaluated_step_ = -1;
  double evaluated_value_ = 0.0;
  bool evaluated_has_metric_ = false;
  std::string saved_name_;
  int64_t saved_step_ = -1;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_BEST_CHECKPOINT_H_
