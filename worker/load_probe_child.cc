#include "worker/load_probe_child.h"

#include <pthread.h>

#include "torch/script.h"
#include "worker/tensor_file.h"

namespace polytrain {
namespace {

// The child loads on a stack smaller than a job thread's (8 MiB by default), so that what it
// survives leaves the worker's own load room to spare.
constexpr size_t kProbeStackBytes = size_t{4} << 20;

struct Probe {
  std::string path, kind;
  int code = 1;
};

void* Load(void* argument) {
  Probe* probe = static_cast<Probe*>(argument);
  try {
    if (probe->kind == "tensors") {
      probe->code = UnpickleTensorFile(probe->path, "file").ok() ? 0 : 1;
    } else if (probe->kind == "torchscript") {
      torch::jit::Module module = torch::jit::load(probe->path, torch::kCPU);
      probe->code = 0;
    }
  } catch (const std::exception&) {
    probe->code = 1;
  }
  return nullptr;
}

}  // namespace

int RunLoadProbe(const std::string& path, const std::string& kind) {
  Probe probe{path, kind};
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kProbeStackBytes);
  pthread_t thread;
  if (pthread_create(&thread, &attributes, &Load, &probe) != 0) {
    pthread_attr_destroy(&attributes);
    Load(&probe);
    return probe.code;
  }
  pthread_attr_destroy(&attributes);
  pthread_join(thread, nullptr);
  return probe.code;
}

}  // namespace polytrain
