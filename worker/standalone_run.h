// A standalone run (polytrain-worker --spec FILE): one JobSpec trained in this process, with
// progress on stderr, metric points as JSON lines, checkpoints where asked and a final summary
// on stdout. Service mode is service_process.h.
#ifndef POLYTRAIN_WORKER_STANDALONE_RUN_H_
#define POLYTRAIN_WORKER_STANDALONE_RUN_H_

#include <functional>
#include <string>

#include "worker/trainer.h"

namespace polytrain {

struct StandaloneRun {
  std::string spec_path;       // --spec
  std::string metrics_out;     // --metrics_out (empty: none)
  std::string checkpoint_dir;  // --checkpoint_dir (empty: none)
  TrainerOptions options;      // data_root and resume set; the rest is filled in here
  bool quiet = false;          // --quiet: no progress and no job line on stderr
  std::string allocator;       // the allocator's tuning, for the summary
  // Starts the load probe's child: called once the signal handlers are in place.
  std::function<void()> enable_load_probe;
};

// Trains `run` and returns the process's exit code (0, or 1/2/4/6/7 as --help lists them).
int RunStandalone(StandaloneRun run);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_STANDALONE_RUN_H_
