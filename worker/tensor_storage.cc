#include "worker/tensor_storage.h"

#include <c10/core/CPUAllocator.h>
#include <malloc.h>

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polytrain {
namespace {

// The bytes usable at a storage's data, when LibTorch's CPU allocator made it (as it does for
// each record it reads); -1 when something else did and the size cannot be known.
int64_t AllocatedBytes(const c10::Storage& storage) {
  const c10::DataPtr& data = storage.data_ptr();
  if (data.get() == nullptr) return 0;
  if (data.get_deleter() != c10::GetCPUAllocator()->raw_deleter() ||
      data.get_context() != data.get()) {
    return -1;
  }
  return static_cast<int64_t>(malloc_usable_size(data.get()));
}

void AddGraphConstants(torch::jit::Block* block, const std::string& method,
                       std::vector<NamedTensor>* out) {
  for (torch::jit::Node* node : block->nodes()) {
    if (node->kind() == c10::prim::Constant && node->hasAttribute(c10::attr::value) &&
        node->kindOf(c10::attr::value) == torch::jit::AttributeKind::t) {
      out->push_back({absl::StrCat(method, ": a tensor constant"), node->t(c10::attr::value)});
    }
    for (torch::jit::Block* inner : node->blocks()) AddGraphConstants(inner, method, out);
  }
}

}  // namespace

absl::Status CheckTensorStorage(const torch::Tensor& t, const std::string& where) {
  if (!t.has_storage()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has no storage (a sparse or MKL-DNN tensor?); save dense tensors"));
  }
  const int64_t storage_bytes = static_cast<int64_t>(t.storage().nbytes());
  const int64_t allocated = AllocatedBytes(t.storage());
  if (storage_bytes > 0 && allocated < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "'s storage was not read from the file; it cannot be checked"));
  }
  if (storage_bytes > allocated) {
    return absl::InvalidArgumentError(absl::StrCat(where, " claims ", storage_bytes,
                                                   " bytes of storage, more than the file holds "
                                                   "for it (a damaged file)"));
  }
  if (t.numel() == 0) return absl::OkStatus();
  // Sizes and strides are the file's own claims: every product is checked for overflow.
  const int64_t item = static_cast<int64_t>(t.element_size());
  int64_t last = t.storage_offset();  // the furthest element the view reaches
  int64_t numel = 1;
  bool overflow = last < 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has a negative stride"));
    }
    int64_t reach = 0;
    overflow = overflow || __builtin_mul_overflow(t.size(d) - 1, t.stride(d), &reach) ||
               __builtin_add_overflow(last, reach, &last) ||
               __builtin_mul_overflow(numel, t.size(d), &numel);
  }
  int64_t end_bytes = 0, numel_bytes = 0;
  overflow = overflow || __builtin_mul_overflow(last + 1, item, &end_bytes) ||
             __builtin_mul_overflow(numel, item, &numel_bytes);
  if (overflow) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is [", absl::StrJoin(t.sizes(), ", "),
                                                   "]: more values than any file holds"));
  }
  if (end_bytes > storage_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " reaches past the end of its storage (a damaged file)"));
  }
  if (numel_bytes > storage_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " is [", absl::StrJoin(t.sizes(), ", "), "] over only ", storage_bytes / item,
        " stored values (an expanded view?); save it with .contiguous()"));
  }
  return absl::OkStatus();
}

std::vector<NamedTensor> ModuleTensors(const torch::jit::Module& module) {
  std::vector<NamedTensor> out;
  std::set<const c10::TensorImpl*> seen;
  const auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (seen.insert(t.unsafeGetTensorImpl()).second) out.push_back({name, t});
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) add(p.name, p.value);
  for (const auto& b : module.named_buffers(/*recurse=*/true)) add(b.name, b.value);
  // Everything else the module object reaches: attributes, in submodules too, inside lists,
  // tuples and dicts.
  c10::IValue(module._ivalue()).visit([&](const c10::IValue& value) {
    if (value.isTensor()) add("a tensor attribute", value.toTensor());
    return false;  // go on into every sub-value
  });
  for (const torch::jit::Module& sub : module.modules()) {
    for (const torch::jit::Method& method : sub.get_methods()) {
      AddGraphConstants(method.graph()->block(), absl::StrCat("method ", method.name()), &out);
    }
  }
  return out;
}

}  // namespace polytrain
