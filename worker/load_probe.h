// A file a job names loaded first by LibTorch in a child process, so that a file that crashes
// LibTorch costs that child, not the worker and every job on it. LibTorch unpickles nested
// values and parses TorchScript code by recursion: a crafted file of a few hundred bytes (a list
// nested 150,000 deep behind a pickle trick, 100,000 nested parentheses in a model's code)
// overflows the stack of whatever loads it. The zip and pickle checks (common/zip_records.h)
// refuse what they can see at submit; this catches what only LibTorch's own reading finds.
//
// The worker's main enables it with its own binary, which runs RunLoadProbe when given
// kLoadProbeFlag; elsewhere (tests, polyloss) it is off and ProbeLoad passes.
#ifndef POLYTRAIN_WORKER_LOAD_PROBE_H_
#define POLYTRAIN_WORKER_LOAD_PROBE_H_

#include <string>

#include "absl/status/status.h"

namespace polytrain {

// argv[1] of the probe's child: `<binary> --probe_torch_load PATH tensors|torchscript`.
inline constexpr char kLoadProbeFlag[] = "--probe_torch_load";

enum class ProbedFile { kTensors, kTorchScript };

// The binary run as the probe's child ("/proc/self/exe" for the worker itself). Set once, before
// any job loads a file.
void EnableLoadProbe(const std::string& binary);

// Runs the probe's child on `path` and waits for it. INVALID_ARGUMENT naming `field` when the
// child died of a signal (LibTorch crashed reading the file); OK otherwise, also when the child
// refused the file (the load here says why, in its own words) or could not be started (logged:
// the load here goes on unprobed).
absl::Status ProbeLoad(const std::string& path, ProbedFile kind, const std::string& field);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LOAD_PROBE_H_
