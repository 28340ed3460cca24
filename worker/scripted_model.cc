#include "worker/scripted_model.h"

#include <torch/script.h>
#include <torch/version.h>

#include <cmath>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/worker_messages.h"
#include "common/short_list.h"
#include "common/status_macros.h"
#include "common/torch_file_check.h"
#include "common/validation.h"
#include "worker/data_root.h"
#include "worker/load_probe.h"
#include "worker/tensor_storage.h"

namespace polytrain {
namespace {

using polytrain::v1::TorchScriptModel;

std::string Shape(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// What is wrong with a forward's answer on `batch`, for the probe and every later step alike;
// empty when it is the [batch, classes] floating-point logits on the batch's device that the
// loss takes.
std::string LogitsProblem(const c10::IValue& output, const torch::Tensor& batch, int64_t classes) {
  if (!output.isTensor()) {
    return absl::StrCat("forward on a batch ", Shape(batch), " returned a ", output.tagKind(),
                        ", not a tensor of logits");
  }
  const torch::Tensor& logits = output.toTensor();
  if (logits.dim() != 2 || logits.size(0) != batch.size(0) || logits.size(1) != classes) {
    return absl::StrCat("forward on a batch ", Shape(batch), " returned ", Shape(logits),
                        "; the loss needs [", batch.size(0), ", ", classes,
                        "] logits (the data has ", classes,
                        classes == 1 ? " class or label)" : " classes or labels)");
  }
  if (!logits.is_floating_point()) {
    return absl::StrCat("forward returned ", c10::toString(logits.scalar_type()),
                        " values; logits must be floating point");
  }
  if (logits.layout() != torch::kStrided || logits.device() != batch.device()) {
    return absl::StrCat("forward returned ", logits.is_sparse() ? "sparse " : "", "logits on ",
                        logits.device().str(), "; the loss needs dense logits on ",
                        batch.device().str(), ", the batch's device");
  }
  return "";
}

// TorchScript's interpreter writes its traceback first and the error last ("RuntimeError: mat1
// and mat2 must have the same dtype"): the error goes first, so that it is what a reader (and a
// message cut to an error's length) sees, and the traceback after it.
std::string ErrorFirst(const std::string& what) {
  constexpr absl::string_view kInterpreter =
      "The following operation failed in the TorchScript interpreter.";
  if (!absl::StartsWith(what, kInterpreter)) return what;
  const std::vector<std::string> lines = absl::StrSplit(what, '\n');
  for (size_t i = lines.size(); i-- > 1;) {
    const std::string& line = lines[i];
    const size_t named = line.find("Error: ");
    if (named == std::string::npos || !absl::ascii_isalpha(line[0]) || line.find(' ') < named) {
      continue;
    }
    std::string error = absl::StrJoin(lines.begin() + i, lines.end(), "\n");
    absl::StripTrailingAsciiWhitespace(&error);
    return absl::StrCat(error, "\n(TorchScript's traceback, most recent call last:\n",
                        absl::StrJoin(lines.begin() + 1, lines.begin() + i, "\n"), ")");
  }
  return what;
}

// What went wrong inside LibTorch, without its C++ backtrace, cut to an error's length.
std::string Reason(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return CutError(
      ErrorFirst(torch_error != nullptr ? torch_error->what_without_backtrace() : e.what()));
}

// " (the model's parameters are float64 and the batch float32: ...)" when a floating-point
// parameter's dtype is not the batch's, the usual cause of a forward that throws on real data.
std::string DtypeHint(const torch::jit::Module& module, const torch::Tensor& batch) {
  if (!batch.is_floating_point()) return "";
  auto name = [](c10::ScalarType type) -> std::string {  // as Python's torch writes it
    switch (type) {
      case c10::ScalarType::Double:
        return "float64";
      case c10::ScalarType::Float:
        return "float32";
      case c10::ScalarType::Half:
        return "float16";
      case c10::ScalarType::BFloat16:
        return "bfloat16";
      default:
        return c10::toString(type);
    }
  };
  // The data is float32 (tensor files are converted): a model of another dtype is the cause.
  if (batch.scalar_type() != torch::kFloat) return "";
  for (const torch::Tensor& p : module.parameters()) {
    if (p.is_floating_point() && p.scalar_type() != batch.scalar_type()) {
      return absl::StrCat(" (the model's parameters are ", name(p.scalar_type()), " and the batch ",
                          name(batch.scalar_type()), ": save the model after model.float())");
    }
  }
  return "";
}

// "Linear" for a module of class torch.nn.modules.linear.Linear (traced modules' class names
// carry a "___torch_mangle_N" component in between); "" for one that is not torch.nn's.
std::string TorchNnClass(const torch::jit::Module& module) {
  const auto name = module.type()->name();
  if (!name) return "";
  const std::string qualified = name->qualifiedName();
  if (qualified.rfind("__torch__.torch.nn.modules.", 0) != 0) return "";
  return name->name();
}

// Draws the standard layers' parameters again as PyTorch's constructors do (reset_parameters),
// from LibTorch's default generator. Returns the names of the parameters left as saved.
std::vector<std::string> InitializeFromSeed(torch::jit::Module& module) {
  torch::NoGradGuard no_grad;
  std::set<std::string> drawn;
  for (const auto& item : module.named_modules()) {
    const std::string kind = TorchNnClass(item.value);
    const std::string prefix = item.name.empty() ? "" : item.name + ".";
    auto attribute = [&](const char* name) -> torch::Tensor {
      if (!item.value.hasattr(name)) return torch::Tensor();
      const c10::IValue value = item.value.attr(name);
      return value.isTensor() ? value.toTensor() : torch::Tensor();
    };
    // A parameter that does not train (a frozen, pretrained layer) keeps its saved value: drawn
    // again, it would stay random for the whole run.
    auto trained = [&](const char* name) -> torch::Tensor {
      const torch::Tensor tensor = attribute(name);
      return tensor.defined() && tensor.requires_grad() ? tensor : torch::Tensor();
    };
    const torch::Tensor weight = trained("weight");
    const torch::Tensor bias = trained("bias");
    if (kind == "Linear" || kind == "Conv1d" || kind == "Conv2d" || kind == "Conv3d") {
      const torch::Tensor shape = attribute("weight");  // the fan-in, trained or not
      if (!shape.defined() || shape.dim() < 2) continue;
      if (weight.defined()) {
        torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
        drawn.insert(prefix + "weight");
      }
      if (bias.defined()) {
        const int64_t fan_in = std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(shape));
        const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
        bias.uniform_(-bound, bound);
        drawn.insert(prefix + "bias");
      }
    } else if (kind.rfind("BatchNorm", 0) == 0 || kind == "LayerNorm" || kind == "GroupNorm") {
      if (weight.defined()) {
        weight.fill_(1.0);
        drawn.insert(prefix + "weight");
      }
      if (bias.defined()) {
        bias.zero_();
        drawn.insert(prefix + "bias");
      }
      // The running statistics go with the affine parameters: a frozen BatchNorm keeps them.
      const bool frozen = !weight.defined() && !bias.defined() &&
                          (attribute("weight").defined() || attribute("bias").defined());
      if (frozen) continue;
      if (const torch::Tensor mean = attribute("running_mean"); mean.defined()) mean.zero_();
      if (const torch::Tensor var = attribute("running_var"); var.defined()) var.fill_(1.0);
      if (const torch::Tensor n = attribute("num_batches_tracked"); n.defined()) n.zero_();
    } else if (kind == "Embedding" && weight.defined()) {
      weight.normal_();
      // As PyTorch's reset_parameters: the padding row is zero (it gets no gradient, so a drawn
      // one would stay random).
      if (item.value.hasattr("padding_idx")) {
        const c10::IValue padding = item.value.attr("padding_idx");
        if (padding.isInt() && weight.dim() == 2) {
          const int64_t row = padding.toInt();
          if (row >= -weight.size(0) && row < weight.size(0)) weight[row].zero_();
        }
      }
      drawn.insert(prefix + "weight");
    }
  }
  std::vector<std::string> kept;
  for (const auto& item : module.named_parameters()) {
    if (drawn.count(item.name) == 0) kept.push_back(item.name);
  }
  return kept;
}

// An evaluation batch as the user's code may have it: evaluation's batches (and the probe's
// first samples) are slices of the stored split, views on the CPU, copied here since a forward
// that normalises its input in place (x.sub_(m).div_(s), harmless under a DataLoader's fresh
// batches) would otherwise rewrite the split every evaluation reads (probe CI). Training's
// batches are gathered afresh (Trainer: index_select), so they are handed over as they are.
torch::Tensor OwnEvaluationInput(const torch::Tensor& batch) {
  return batch.is_view() ? batch.clone() : batch;
}

// The module's registered buffers as they are now, put back by Restore: the probe's forward
// leaves no trace in a model that counts or accumulates in buffers as it runs. (Plain attributes,
// an int counter say, are not buffers: TorchScript gives no way to put those back.)
class BufferSnapshot {
 public:
  explicit BufferSnapshot(const torch::jit::Module& module) : module_(module) {
    for (const auto& item : module.named_buffers()) {
      saved_.push_back({item.name, item.value, item.value.clone()});
    }
  }
  void Restore() {
    std::map<std::string, torch::Tensor> now;
    for (const auto& item : module_.named_buffers()) now.emplace(item.name, item.value);
    for (const Saved& saved : saved_) {
      auto it = now.find(saved.name);
      if (it == now.end()) continue;
      torch::Tensor& buffer = it->second;
      if (buffer.unsafeGetTensorImpl() != saved.original.unsafeGetTensorImpl()) {
        buffer.set_data(saved.copy);  // the forward put another tensor there
      } else if (!torch::equal(buffer, saved.copy)) {
        // In place: a buffer that is a view of another stays one.
        buffer.copy_(saved.copy);
      }
    }
  }

 private:
  struct Saved {
    std::string name;
    torch::Tensor original;
    torch::Tensor copy;
  };
  torch::jit::Module module_;  // a handle: the same module
  std::vector<Saved> saved_;
};

// The module's parameters, each once: a tied weight (one tensor in two places, as a language
// model's embedding and output layer) is listed by TorchScript in both, and an optimizer given it
// twice would step it twice.
std::vector<torch::Tensor> UniqueParameters(const torch::jit::Module& module) {
  std::vector<torch::Tensor> unique;
  std::set<const c10::TensorImpl*> seen;
  for (const torch::Tensor& p : module.parameters()) {
    if (seen.insert(p.unsafeGetTensorImpl()).second) unique.push_back(p);
  }
  return unique;
}

class ScriptedModel : public TrainableModel {
 public:
  ScriptedModel(torch::jit::Module module, std::string description, std::string field,
                int64_t classes)
      : module_(std::move(module)),
        description_(std::move(description)),
        field_(std::move(field)),
        classes_(classes) {}

  // The module's code may answer differently in training mode, or for other batches, than it
  // did for the probe: every answer is checked (a few comparisons of sizes).
  torch::Tensor Forward(const torch::Tensor& batch) override {
    c10::IValue output;
    try {
      output = module_.forward({training_ ? batch : OwnEvaluationInput(batch)});
    } catch (const std::exception& e) {
      // The user's code failed, not the trainer: an error in their spec, named as such.
      // A BatchNorm layer cannot train on one sample: an epoch's short last batch may hold one.
      const bool lone =
          training_ && batch.dim() > 0 && batch.size(0) == 1 &&
          Reason(e).find("Expected more than 1 value per channel") != std::string::npos;
      throw ModelOutputError(absl::StrCat(
          field_, ": forward on a batch ", Shape(batch), " threw",
          training_ ? "" : " in evaluation mode", ": ", Reason(e),
          lone ? " (a batch of one sample: spec.drop_last drops an epoch's short last batch)"
               : ""));
    }
    if (const std::string problem = LogitsProblem(output, batch, classes_); !problem.empty()) {
      throw ModelOutputError(absl::StrCat(field_, ": ", problem));
    }
    torch::Tensor logits = output.toTensor();
    if (training_ && torch::GradMode::is_enabled() && !logits.requires_grad()) {
      throw ModelOutputError(absl::StrCat(
          field_, ": forward's output does not depend on any trained parameter (detached?)"));
    }
    return logits;
  }
  std::vector<torch::Tensor> Parameters() override {
    std::vector<torch::Tensor> trainable;
    for (const torch::Tensor& p : UniqueParameters(module_)) {
      if (p.requires_grad()) trainable.push_back(p);
    }
    return trainable;
  }
  std::vector<std::pair<std::string, torch::Tensor>> State() override {
    std::vector<std::pair<std::string, torch::Tensor>> state;
    for (const auto& item : module_.named_parameters()) state.emplace_back(item.name, item.value);
    for (const auto& item : module_.named_buffers()) state.emplace_back(item.name, item.value);
    return state;
  }
  void SetTraining(bool training) override {
    module_.train(training);
    training_ = training;
  }
  void To(const torch::Device& device) override { module_.to(device); }
  // One dict attribute, name -> tensor: the names have dots, which an archive's keys cannot.
  void Save(torch::serialize::OutputArchive& archive) override {
    c10::Dict<std::string, torch::Tensor> state;
    for (const auto& [name, tensor] : State()) state.insert(name, tensor.detach());
    archive.write("state", c10::IValue(state));
  }
  void Load(torch::serialize::InputArchive& archive) override {
    c10::IValue value;
    archive.read("state", value);
    TORCH_CHECK(value.isGenericDict(), "the checkpoint holds no TorchScript model state");
    const c10::impl::GenericDict saved = value.toGenericDict();
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : State()) {
      auto it = saved.find(name);
      TORCH_CHECK(it != saved.end(), "the checkpoint has no ", name);
      const torch::Tensor from = it->value().toTensor();
      TORCH_CHECK(from.sizes() == tensor.sizes(), name, " is ", from.sizes(),
                  " in the checkpoint, ", tensor.sizes(), " in the model");
      tensor.copy_(from);
    }
    TORCH_CHECK(static_cast<size_t>(saved.size()) == State().size(),
                "the checkpoint holds more tensors than the model");
  }
  std::string Describe() const override { return description_; }

 private:
  torch::jit::Module module_;
  std::string description_;
  std::string field_;
  int64_t classes_;
  bool training_ = true;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TrainableModel>> LoadScriptedModel(
    const TorchScriptModel& spec, const JobFiles& files, const torch::Device& device,
    const torch::Tensor& probe, int64_t classes, const std::string& field) {
  const std::string path_field = SourceField(field, spec.has_artifact());
  absl::StatusOr<std::string> file =
      ResolveJobFile(files, spec.has_artifact(), spec.path(), spec.artifact(), field);
  if (!file.ok()) return file.status();
  // LibTorch would allocate and inflate whatever sizes the archive declares.
  POLYTRAIN_RETURN_IF_ERROR(CheckTorchFile(*file, path_field, TorchFile::kTorchScript));
  POLYTRAIN_RETURN_IF_ERROR(ProbeLoad(*file, ProbedFile::kTorchScript, path_field));
  torch::jit::Module module;
  try {
    // On the CPU first: each tensor is checked against the record it was read into before
    // anything reads it, a copy to the device included. A file that passed is loaded again
    // onto the job's device, which places every tensor there, plain attributes too (Module::to
    // moves only parameters and buffers).
    module = torch::jit::load(*file, torch::kCPU);
    for (const NamedTensor& named : ModuleTensors(module)) {
      if (absl::Status s = CheckTensorStorage(named.tensor, named.name); !s.ok()) {
        return InvalidField(path_field, s.message());
      }
    }
    if (!device.is_cpu()) module = torch::jit::load(*file, device);
  } catch (const std::exception& e) {
    const std::string reason = Reason(e);
    if (absl::StrContains(reason, "Unknown builtin op")) {
      return InvalidField(
          path_field,
          absl::StrCat("the model calls an op this worker's LibTorch ", TORCH_VERSION,
                       " does not have (a model scripted by a newer PyTorch can): script it with "
                       "torch ",
                       TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR,
                       " or run a worker built with a newer LibTorch; ", reason));
    }
    // The interpreter ran the module's own code (its __setstate__) as it loaded: the file is
    // TorchScript, its code threw.
    if (absl::StrContains(reason, "(TorchScript's traceback")) {
      return InvalidField(path_field,
                          absl::StrCat("loading the module ran its code (__setstate__), which "
                                       "threw: ",
                                       reason));
    }
    return InvalidField(path_field,
                        absl::StrCat("not a TorchScript file (torch.jit.save): ", reason));
  }
  if (!module.find_method("forward")) {
    return InvalidField(path_field, "the module has no forward method");
  }
  std::vector<std::string> kept;
  const bool from_seed = spec.init() != TorchScriptModel::INIT_FROM_MODULE;
  int64_t trainable = 0, parameters = 0;
  try {
    if (from_seed) kept = InitializeFromSeed(module);
    for (const torch::Tensor& p : UniqueParameters(module)) {
      parameters += p.numel();
      if (p.requires_grad()) trainable += p.numel();
    }
  } catch (const std::exception& e) {
    return InvalidField(field, absl::StrCat("initialising the module: ", Reason(e)));
  }
  if (trainable == 0) {
    return InvalidField(field, "the module has no trainable parameters (none requires a gradient)");
  }
  // The output on a few real samples, in evaluation mode and without gradients: nothing changes.
  const std::string input = Shape(probe);
  try {
    torch::NoGradGuard no_grad;
    module.eval();
    BufferSnapshot buffers(module);
    const c10::IValue output = module.forward({OwnEvaluationInput(probe)});
    buffers.Restore();
    module.train();
    if (const std::string problem = LogitsProblem(output, probe, classes); !problem.empty()) {
      return InvalidField(field, problem);
    }
  } catch (const std::exception& e) {
    return InvalidField(field, absl::StrCat("forward on a batch ", input, " threw",
                                            DtypeHint(module, probe), ": ", Reason(e)));
  }
  std::string description =
      absl::StrCat("torchscript ", spec.has_artifact() ? spec.artifact() : spec.path(), " (",
                   parameters, " parameters, ", trainable, " trained; ",
                   from_seed ? "initialised from the seed" : "saved weights");
  if (from_seed && !kept.empty()) {
    absl::StrAppend(&description, "; left as saved: ", ShortList(kept, 8));
  }
  absl::StrAppend(&description, ")");
  return std::unique_ptr<TrainableModel>(
      std::make_unique<ScriptedModel>(std::move(module), std::move(description), field, classes));
}

}  // namespace polytrain
