#include "worker/load_probe_child.h"

#include <thread>

#include "torch/script.h"
#include "worker/dataset.h"
#include "worker/tensor_file.h"

namespace polytrain {

int RunLoadProbe(const std::string& path, const std::string& kind) {
  int code = 1;
  std::thread loader([&] {
    try {
      if (kind == "tensors") {
        Dataset data;
        code = ReadTensorFile(path, "file", &data).ok() ? 0 : 1;
      } else if (kind == "torchscript") {
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        code = 0;
      }
    } catch (const std::exception&) {
      code = 1;
    }
  });
  loader.join();
  return code;
}

}  // namespace polytrain
