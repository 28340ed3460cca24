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

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace polytrain {

// argv[1] of the probe's child: `<binary> --probe_torch_load PATH tensors|torchscript`, or
// `<binary> --probe_torch_load -` for a child started ahead, which reads "KIND\0PATH\0" from its
// stdin (ReadLoadProbeRequest) and loads that; its input closed with nothing in it, it ends.
inline constexpr char kLoadProbeFlag[] = "--probe_torch_load";
inline constexpr size_t kMaxLoadProbeRequestBytes = 16384;

enum class ProbedFile { kTensors, kTorchScript };

// The binary run as the probe's child ("/proc/self/exe" for the worker itself; empty: off). Set
// before any job loads a file, from a thread that lives as long as the process (the worker's
// main): one child is started ahead from it, so that a job does not wait for LibTorch's start.
void EnableLoadProbe(const std::string& binary);

// Runs the probe's child on `path` and waits for it. INVALID_ARGUMENT naming `field` when the
// child died of a crash (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE: LibTorch crashed reading the
// file); UNAVAILABLE when it was killed otherwise (out of memory, a signal to the group);
// CANCELLED when this thread's job was cancelled or released meanwhile (ProbeCancel: the child
// is killed); OK otherwise, also when the child refused the file (the load here says why, in its
// own words) or could not be started (logged: the load here goes on unprobed).
absl::Status ProbeLoad(const std::string& path, ProbedFile kind, const std::string& field);

// While alive, a ProbeLoad on this thread stops waiting (and kills its child) once `cancel` or
// `release` (either may be null) is set: a model whose loading never ends must not hold a job
// past its cancel, nor a worker's drain.
class ProbeCancel {
 public:
  ProbeCancel(const std::atomic<bool>* cancel, const std::atomic<bool>* release);
  ~ProbeCancel();
  ProbeCancel(const ProbeCancel&) = delete;
  ProbeCancel& operator=(const ProbeCancel&) = delete;

 private:
  const std::atomic<bool>* previous_cancel_;
  const std::atomic<bool>* previous_release_;
};

// The child's first steps, before it loads anything: it dies with the process that started it,
// writes no core file, and holds none of its parent's files.
void BecomeLoadProbeChild();

// A child started ahead: its request (kind, path) read from `fd` to its end; none when the
// input was empty (the worker ended it unused) or malformed.
std::optional<std::pair<std::string, std::string>> ReadLoadProbeRequest(int fd);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LOAD_PROBE_H_
