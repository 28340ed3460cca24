#include "worker/tensor_file.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"
#include "common/torch_file_check.h"
#include "common/validation.h"
#include "common/zip_records.h"
#include "worker/load_probe.h"
#include "worker/multi_label.h"
#include "worker/tensor_storage.h"

namespace polytrain {
namespace {

constexpr const char* kKeys[] = {"train_x", "train_y", "test_x", "test_y", "val_x", "val_y"};

std::string Shape(c10::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// No tensor may claim more bytes than the file holds once its compressed records are inflated
// (at most kMaxInflatedZipBytes, zip_records.h), nor reach past the memory behind it
// (tensor_storage.h). Each is refused, naming the key.
absl::Status CheckStorage(const torch::Tensor& t, int64_t file_bytes, const std::string& field,
                          const std::string& key) {
  const std::string where = absl::StrCat(field, ": ", key);
  if (t.has_storage() &&
      static_cast<int64_t>(t.storage().nbytes()) > file_bytes + kMaxInflatedZipBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " claims ", t.storage().nbytes(), " bytes of data in a file of ", file_bytes,
        " (whose compressed records inflate to at most ", kMaxInflatedZipBytes, " bytes)"));
  }
  return CheckTensorStorage(t, where);
}

// `as_float` (`original` converted to float32) holds only finite values. One pass and no
// temporary where `original` is float32: a float32 sum in float64 cannot overflow, so it is
// finite exactly when every value is. A float64 value past float32's range is named as such
// (it is finite where it was saved).
absl::Status CheckFiniteAsFloat(const torch::Tensor& original, const torch::Tensor& as_float,
                                const std::string& where) {
  if (std::isfinite(as_float.sum(torch::kDouble).item<double>())) return absl::OkStatus();
  if (original.scalar_type() == torch::kDouble && torch::isfinite(original).all().item<bool>()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " holds values beyond float32's range (",
                                                   std::numeric_limits<float>::max(),
                                                   "), the precision the worker trains in"));
  }
  return absl::InvalidArgumentError(absl::StrCat(where, " holds NaN or infinite values"));
}

// x of one split as float32 [N, sample...]: a floating dtype, or uint8 scaled to [0, 1].
absl::StatusOr<torch::Tensor> Samples(const torch::Tensor& x, const std::string& field,
                                      const std::string& key) {
  const std::string where = absl::StrCat(field, ": ", key);
  if (x.dim() < 2 || x.dim() > 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " is ", Shape(x.sizes()), "; expected [samples, 1 to 3 sample dimensions]"));
  }
  if (x.size(0) == 0) return absl::InvalidArgumentError(absl::StrCat(where, " has no samples"));
  if (x.size(0) > kMaxSamples) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has ", x.size(0), " samples; at most ", kMaxSamples));
  }
  for (int64_t d = 1; d < x.dim(); ++d) {
    if (x.size(d) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " is ", Shape(x.sizes()), "; a sample dimension of 0 holds nothing"));
    }
  }
  torch::Tensor samples;
  if (x.scalar_type() == torch::kByte) {
    samples = x.to(torch::kFloat).div_(255.0);
  } else if (x.is_floating_point()) {
    samples = x.to(torch::kFloat);
    POLYTRAIN_RETURN_IF_ERROR(CheckFiniteAsFloat(x, samples, where));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(where, " is ", c10::toString(x.scalar_type()),
                                                   "; expected a floating dtype or uint8"));
  }
  return samples.contiguous();
}

// Multi-label targets [N, C] of one split as float32; their values are checked against the
// job's loss (multi_label.h), which may ignore one of them.
absl::StatusOr<torch::Tensor> Targets(const torch::Tensor& y, int64_t samples,
                                      const std::string& where) {
  if (y.size(0) != samples) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is ", Shape(y.sizes()),
                                                   "; expected a row of targets per sample: [",
                                                   samples, ", labels]"));
  }
  if (y.size(1) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", Shape(y.sizes()), "; a row of 0 targets holds no label"));
  }
  if (y.is_complex()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is ", c10::toString(y.scalar_type()),
                                                   "; expected real multi-label targets"));
  }
  const torch::Tensor targets = y.to(torch::kFloat).contiguous();
  POLYTRAIN_RETURN_IF_ERROR(CheckFiniteAsFloat(y, targets, where));
  return targets;
}

// y of one split: int64 [N] integer class indices, at least 0, or multi-label targets [N, C].
absl::StatusOr<torch::Tensor> Labels(const torch::Tensor& y, int64_t samples,
                                     const std::string& field, const std::string& key) {
  const std::string where = absl::StrCat(field, ": ", key);
  if (y.dim() == 2) return Targets(y, samples, where);
  if (y.is_floating_point() || y.is_complex() || y.scalar_type() == torch::kBool) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", c10::toString(y.scalar_type()), " ", Shape(y.sizes()),
                     "; expected integer class indices [N] or multi-label targets [N, labels]"));
  }
  if (y.dim() != 1 || y.size(0) != samples) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is ", Shape(y.sizes()), "; expected one label per sample: [", samples,
                     "] (or multi-label targets: [", samples, ", labels])"));
  }
  const torch::Tensor labels = y.to(torch::kLong).contiguous();
  if (labels.min().item<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " holds the negative class ", labels.min().item<int64_t>()));
  }
  return labels;
}

// The bytes read, as the zip reader of torch.save's format reads them.
class BytesReader : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReader(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// torch.pickle_load, but every tensor restored on the CPU (map_location="cpu"): a file saved
// from GPU tensors loads on any worker, and the trainer moves the data to its device itself.
c10::IValue LoadOnCpu(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BytesReader>(bytes));
  return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                           /*type_resolver=*/{}, /*obj_loader=*/{},
                                           at::Device(at::kCPU), reader);
}

// The file whole, once its size, its first bytes and its zip directory (read alone) say it is
// what torch.save writes: a file of junk is refused before gigabytes of it are read.
absl::StatusOr<std::vector<char>> ReadTorchSaveFile(const std::string& file,
                                                    const std::string& field) {
  std::error_code error;
  const auto size = std::filesystem::file_size(file, error);
  // Errors name the field, never the file's path on the worker (data_root.h).
  if (error) return absl::NotFoundError(absl::StrCat(field, ": ", error.message()));
  if (static_cast<int64_t>(size) > kMaxTensorFileBytes) {
    return InvalidField(field, absl::StrCat(size, " bytes; at most ", kMaxTensorFileBytes));
  }
  POLYTRAIN_RETURN_IF_ERROR(CheckTorchFile(file, field, TorchFile::kTorchSave));
  POLYTRAIN_RETURN_IF_ERROR(ProbeLoad(file, ProbedFile::kTensors, field));
  std::vector<char> bytes(size);
  std::ifstream in(file, std::ios::binary);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": reading the file failed"));
  }
  return bytes;
}

}  // namespace

absl::Status UnpickleTensorFile(const std::string& file, const std::string& field) {
  absl::StatusOr<std::vector<char>> bytes = ReadTorchSaveFile(file, field);
  if (!bytes.ok()) return bytes.status();
  try {
    (void)LoadOnCpu(*bytes);
  } catch (const std::exception& e) {
    return InvalidField(field, e.what());
  }
  return absl::OkStatus();
}

absl::Status ReadTensorFile(const std::string& file, const std::string& field, Dataset* data) {
  absl::StatusOr<std::vector<char>> bytes = ReadTorchSaveFile(file, field);
  if (!bytes.ok()) return bytes.status();
  // The directory again, of the bytes read: the file may have changed between the two reads.
  POLYTRAIN_RETURN_IF_ERROR(CheckZipRecords(absl::string_view(bytes->data(), bytes->size()), field,
                                            "not a file torch.save wrote"));
  std::map<std::string, torch::Tensor> tensors;
  try {
    const c10::IValue value = LoadOnCpu(*bytes);
    if (!value.isGenericDict()) {
      return InvalidField(field, absl::StrCat("holds a ", value.tagKind(),
                                              "; expected a dict of "
                                              "tensors (torch.save({\"train_x\": ..., ...}))"));
    }
    for (const auto& entry : value.toGenericDict()) {
      if (!entry.key().isString()) {
        return InvalidField(
            field, absl::StrCat("a key is a ", entry.key().tagKind(), "; keys are the strings ",
                                absl::StrJoin(kKeys, ", ")));
      }
      const std::string key = entry.key().toStringRef();
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return InvalidField(field, absl::StrCat("unknown key ", Quote(key), "; the keys are ",
                                                absl::StrJoin(kKeys, ", ")));
      }
      if (!entry.value().isTensor()) {
        return InvalidField(field,
                            absl::StrCat(key, " is a ", entry.value().tagKind(), ", not a tensor"));
      }
      const torch::Tensor tensor = entry.value().toTensor();
      POLYTRAIN_RETURN_IF_ERROR(
          CheckStorage(tensor, static_cast<int64_t>(bytes->size()), field, key));
      // Data, not a graph: a tensor saved with requires_grad (features from a model) would make
      // normalization or a validation split fail inside autograd.
      tensors[key] = tensor.detach();
    }
  } catch (const std::exception& e) {
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
    const std::string why =
        torch_error != nullptr ? torch_error->what_without_backtrace() : e.what();
    // Python pickles a dict of one item with SETITEM ('s'), which LibTorch 1.13 lacks: say what
    // a tensors file holds rather than the unpickler's opcode.
    if (absl::StrContains(why, "Unknown opcode") && absl::StrContains(why, "0x73")) {
      return InvalidField(field,
                          "holds a dict of one item (at the top or inside), which this worker's "
                          "LibTorch cannot read; a tensors file is one dict of tensors with "
                          "train_x, train_y, test_x and test_y");
    }
    // numpy arrays saved by torch.save: said so, not as a file torch.save did not write.
    if (absl::StrContains(why, "numpy")) {
      return InvalidField(field,
                          "holds numpy arrays, which LibTorch cannot read: save torch tensors "
                          "(torch.from_numpy(array)) in the dict");
    }
    return InvalidField(field, absl::StrCat("not a file torch.save wrote: ", CutError(why)));
  }
  for (const char* key : {"train_x", "train_y", "test_x", "test_y"}) {
    if (tensors.count(key) == 0) return InvalidField(field, absl::StrCat("no ", key));
  }
  if (tensors.count("val_x") != tensors.count("val_y")) {
    return InvalidField(field, "val_x and val_y come together");
  }
  try {
    // Train first: its errors are named before another split's that repeats them.
    std::vector<std::pair<std::string, Split*>> splits{{"train", &data->train}};
    if (tensors.count("val_x") != 0) splits.emplace_back("val", &data->validation);
    splits.emplace_back("test", &data->test);
    for (const auto& [name, split] : splits) {
      absl::StatusOr<torch::Tensor> x = Samples(tensors[name + "_x"], field, name + "_x");
      if (!x.ok()) return x.status();
      absl::StatusOr<torch::Tensor> y =
          Labels(tensors[name + "_y"], x->size(0), field, name + "_y");
      if (!y.ok()) return y.status();
      *split = {*x, *y};
    }
    const c10::IntArrayRef shape = data->train.x.sizes().slice(1);
    const bool multi_label = IsMultiLabel(data->train.y);
    if (multi_label) {
      data->classes = data->train.y.size(1);
      if (data->classes > kMaxTensorFileClasses) {
        return InvalidField(field, absl::StrCat("train_y has ", data->classes, " labels; at most ",
                                                kMaxTensorFileClasses));
      }
    } else {
      data->classes = data->train.y.max().item<int64_t>() + 1;
      if (data->classes < 2 || data->classes > kMaxTensorFileClasses) {
        return InvalidField(field, absl::StrCat("train_y names ", data->classes,
                                                " classes; expected 2 to ", kMaxTensorFileClasses));
      }
    }
    for (const auto& [name, split] : splits) {
      if (split->x.sizes().slice(1) != shape) {
        return InvalidField(field,
                            absl::StrCat(name, "_x samples are ", Shape(split->x.sizes().slice(1)),
                                         " but train_x's are ", Shape(shape)));
      }
      if (split->y.dim() != data->train.y.dim() ||
          (multi_label && split->y.size(1) != data->classes)) {
        return InvalidField(
            field, absl::StrCat(name, "_y is ", Shape(split->y.sizes()), " but train_y is ",
                                Shape(data->train.y.sizes()),
                                split->y.dim() == data->train.y.dim()
                                    ? ": every split has the same labels"
                                    : ": class indices in one, multi-label rows in the other"));
      }
      if (multi_label) continue;
      const int64_t top = split->y.max().item<int64_t>();
      if (top >= data->classes) {
        return InvalidField(
            field, absl::StrCat(name, "_y holds class ", top, " but train_y names ", data->classes,
                                " classes (0 to ", data->classes - 1, ")"));
      }
    }
    data->sample_shape.assign(shape.begin(), shape.end());
  } catch (const std::exception& e) {  // e.g. out of memory converting a huge tensor
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
    return InvalidField(
        field, absl::StrCat("reading the tensors: ",
                            CutError(torch_error != nullptr ? torch_error->what_without_backtrace()
                                                            : e.what())));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
