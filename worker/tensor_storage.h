// Whether a tensor read from a user's file (torch.save or torch.jit.save) stays inside the memory
// behind it, checked before any of its values is touched. LibTorch takes a storage's size from
// the file's pickle and its bytes from the zip record named there, and compares neither: a
// crafted file can declare a storage larger than its record, or a view (sizes, strides, offset)
// that reaches past its storage, and training would read and write past the end of a buffer.
#ifndef POLYTRAIN_WORKER_TENSOR_STORAGE_H_
#define POLYTRAIN_WORKER_TENSOR_STORAGE_H_

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace polytrain {

// INVALID_ARGUMENT "<where> ..." when `t`'s view reaches past its storage, an expanded view
// stands for more values than are stored, or its storage claims more bytes than the CPU
// allocation behind it holds (the record it was read into). `t` is on the CPU.
absl::Status CheckTensorStorage(const torch::Tensor& t, const std::string& where);

// Each tensor a loaded module holds (parameters, buffers, attributes, in submodules too) and
// the tensor constants of its methods' code, with a name for errors.
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};
std::vector<NamedTensor> ModuleTensors(const torch::jit::Module& module);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_TENSOR_STORAGE_H_
