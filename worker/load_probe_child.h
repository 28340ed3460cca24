// The child's side of worker/load_probe.h: loads a file as the worker would, with LibTorch.
#ifndef POLYTRAIN_WORKER_LOAD_PROBE_CHILD_H_
#define POLYTRAIN_WORKER_LOAD_PROBE_CHILD_H_

#include <string>

namespace polytrain {

// Loads and frees `path` ("tensors": a torch.save dict of tensors, unpickled as ReadTensorFile
// does; "torchscript": a module or checkpoint, as torch::jit::load) on a thread with a 4 MiB
// stack, half a job thread's; exit code 0 when it loaded, 1 when it was refused. A crash is the
// answer ProbeLoad looks for.
int RunLoadProbe(const std::string& path, const std::string& kind);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_LOAD_PROBE_CHILD_H_
