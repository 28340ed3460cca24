#include "worker/dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/dataset_checks.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "worker/augmentation.h"
#include "worker/data_root.h"
#include "worker/idx_file.h"
#include "worker/multi_label.h"
#include "worker/tensor_file.h"

namespace polytrain {
namespace {

using polytrain::v1::DatasetSpec;

// One IDX file of a job, named in errors by the spec field and the path the job gave (not where
// it lies on the worker). `rank` is what the file must hold; it must hold samples.
absl::StatusOr<IdxArray> ReadJobIdx(const std::string& data_root, const std::string& file,
                                    const std::string& field, size_t rank,
                                    absl::string_view shape) {
  absl::StatusOr<std::string> path = ResolveDataPath(data_root, file, field);
  if (!path.ok()) return path.status();
  absl::StatusOr<IdxArray> idx = ReadIdxFile(*path, absl::StrCat(field, " (", Quote(file), ")"));
  if (!idx.ok()) return idx.status();
  if (idx->dims.size() != rank) {
    return InvalidField(
        field, absl::StrCat(Quote(file), " holds a rank-", idx->dims.size(), " array; ", shape));
  }
  if (idx->dims[0] == 0) {
    return InvalidField(field, absl::StrCat(Quote(file), " holds no samples"));
  }
  for (size_t d = 1; d < idx->dims.size(); ++d) {
    if (idx->dims[d] == 0) {
      return InvalidField(field, absl::StrCat(Quote(file), " is [", absl::StrJoin(idx->dims, ", "),
                                              "]; a sample dimension of 0 holds nothing"));
    }
  }
  return idx;
}

absl::StatusOr<torch::Tensor> ReadImages(const std::string& data_root, const std::string& file,
                                         const std::string& field) {
  absl::StatusOr<IdxArray> idx = ReadJobIdx(data_root, file, field, 3, "images need [N, H, W]");
  if (!idx.ok()) return idx.status();
  torch::Tensor bytes = torch::from_blob(idx->data.data(), idx->dims, torch::kUInt8);
  // [N, 1, H, W] float in [0, 1]; to() copies out of the IdxArray before it is freed.
  return bytes.unsqueeze(1).to(torch::kFloat).div_(255.0f);
}

absl::StatusOr<torch::Tensor> ReadLabels(const std::string& data_root, const std::string& file,
                                         const std::string& field) {
  absl::StatusOr<IdxArray> idx = ReadJobIdx(data_root, file, field, 1, "labels need [N]");
  if (!idx.ok()) return idx.status();
  return torch::from_blob(idx->data.data(), idx->dims, torch::kUInt8).to(torch::kLong);
}

// The four files of an MNIST-format dataset and the spec field each comes from.
struct IdxSources {
  std::string files[4];   // train images, train labels, test images, test labels
  std::string fields[4];  // e.g. "spec.dataset.idx.train_images"
};

absl::Status LoadIdx(const std::string& data_root, const IdxSources& sources,
                     const std::string& field, Dataset* out) {
  torch::Tensor* targets[4] = {&out->train.x, &out->train.y, &out->test.x, &out->test.y};
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<torch::Tensor> t =
        i % 2 == 0 ? ReadImages(data_root, sources.files[i], sources.fields[i])
                   : ReadLabels(data_root, sources.files[i], sources.fields[i]);
    if (!t.ok()) return t.status();
    *targets[i] = *t;
  }
  if (out->train.x.size(0) != out->train.y.size(0) || out->test.x.size(0) != out->test.y.size(0)) {
    return InvalidField(
        field, absl::StrCat("image and label counts differ (train ", out->train.x.size(0), " vs ",
                            out->train.y.size(0), ", test ", out->test.x.size(0), " vs ",
                            out->test.y.size(0), ")"));
  }
  if (out->train.x.sizes().slice(1) != out->test.x.sizes().slice(1)) {
    return InvalidField(field, "train and test images differ in size");
  }
  // The training labels name the classes; a test label beyond them is a mismatch of files.
  out->classes = out->train.y.max().item<int64_t>() + 1;
  const int64_t test_top = out->test.y.max().item<int64_t>();
  if (test_top >= out->classes) {
    return InvalidField(sources.fields[3],
                        absl::StrCat(Quote(sources.files[3]), " holds class ", test_top, " but ",
                                     Quote(sources.files[1]), " names ", out->classes,
                                     " classes (0 to ", out->classes - 1, ")"));
  }
  out->sample_shape = out->train.x.sizes().slice(1).vec();
  // Standardize with the training set's statistics.
  const torch::Tensor mean = out->train.x.mean();
  const torch::Tensor std = out->train.x.std().clamp_min(1e-6);
  out->train.x.sub_(mean).div_(std);
  out->test.x.sub_(mean).div_(std);
  return absl::OkStatus();
}

void Generate(const polytrain::v1::Synthetic& syn, Dataset* out) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(syn.seed());
  const int64_t classes = syn.classes();
  const torch::Tensor means =
      torch::nn::functional::normalize(torch::randn({classes, syn.features()}, gen, torch::kFloat),
                                       torch::nn::functional::NormalizeFuncOptions().dim(1)) *
      syn.separation();
  torch::Tensor weights = torch::ones({classes}, torch::kDouble);
  if (syn.imbalance() > 1.0 && classes > 1) {
    weights = torch::pow(syn.imbalance(), -torch::arange(classes, torch::kDouble) / (classes - 1));
  }
  auto draw = [&](int64_t n, double noise) {
    Split split;
    split.y = torch::multinomial(weights, n, /*replacement=*/true, gen);
    split.x =
        means.index_select(0, split.y) + torch::randn({n, syn.features()}, gen, torch::kFloat);
    if (noise > 0.0) {
      const torch::Tensor flip = torch::rand({n}, gen, torch::kDouble).lt(noise);
      const torch::Tensor random = torch::randint(0, classes, {n}, gen, torch::kLong);
      split.y = torch::where(flip, random, split.y);
    }
    return split;
  };
  out->train = draw(syn.train_samples(), syn.label_noise());
  out->test = draw(syn.test_samples(), 0.0);
  out->classes = classes;
  out->sample_shape = {syn.features()};
}

}  // namespace

absl::StatusOr<Dataset> LoadDataset(const DatasetSpec& spec, const JobFiles& files, uint64_t seed,
                                    const std::string& path) {
  const std::string& data_root = files.data_root;
  Dataset data;
  std::string source;
  switch (spec.source_case()) {
    case DatasetSpec::kFashionMnist: {
      source = "fashion_mnist";
      const std::string dir =
          spec.fashion_mnist().dir().empty() ? "fashion-mnist" : spec.fashion_mnist().dir();
      const std::string field = FieldPath(path, "fashion_mnist.dir");
      const IdxSources sources{
          {dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
           dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz"},
          {field, field, field, field}};
      POLYTRAIN_RETURN_IF_ERROR(LoadIdx(data_root, sources, field, &data));
      data.field = field;
      break;
    }
    case DatasetSpec::kIdx: {
      source = "idx";
      const auto& idx = spec.idx();
      const std::string field = FieldPath(path, "idx");
      const IdxSources sources{
          {idx.train_images(), idx.train_labels(), idx.test_images(), idx.test_labels()},
          {FieldPath(field, "train_images"), FieldPath(field, "train_labels"),
           FieldPath(field, "test_images"), FieldPath(field, "test_labels")}};
      POLYTRAIN_RETURN_IF_ERROR(LoadIdx(data_root, sources, field, &data));
      data.field = field;
      break;
    }
    case DatasetSpec::kSynthetic:
      source = "synthetic";
      Generate(spec.synthetic(), &data);
      data.field = FieldPath(path, "synthetic");
      break;
    case DatasetSpec::kTensors: {
      source = "tensors";
      const polytrain::v1::TensorFile& tensors = spec.tensors();
      const std::string field = SourceField(FieldPath(path, "tensors"), tensors.has_artifact());
      absl::StatusOr<std::string> file =
          ResolveJobFile(files, tensors.has_artifact(), tensors.path(), tensors.artifact(),
                         FieldPath(path, "tensors"));
      if (!file.ok()) return file.status();
      POLYTRAIN_RETURN_IF_ERROR(ReadTensorFile(*file, field, &data));
      data.field = field;
      if (data.validation.size() > 0 && spec.validation_fraction() > 0.0) {
        return InvalidField(FieldPath(path, "validation_fraction"),
                            "the tensor file has a validation split of its own (val_x, val_y)");
      }
      break;
    }
    case DatasetSpec::SOURCE_NOT_SET:
      return InvalidField(FieldPath(path, "source"), "no dataset set");
  }
  // One label of multi-label targets is a binary task of its own; class indices need two.
  if (data.classes < (IsMultiLabel(data.train.y) ? 1 : 2)) {
    return InvalidField(FieldPath(path, "source"), "the labels name fewer than 2 classes");
  }
  POLYTRAIN_RETURN_IF_ERROR(
      CheckAugmentation(spec.augment(), data.sample_shape, FieldPath(path, "augment")));
  if (spec.has_normalize()) {
    POLYTRAIN_RETURN_IF_ERROR(Normalize(spec.normalize(), data.sample_shape,
                                        FieldPath(path, "normalize"),
                                        {&data.train.x, &data.validation.x, &data.test.x}));
  }

  if (spec.validation_fraction() > 0.0) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x5eedda7aULL);
    const int64_t n = data.train.size();
    POLYTRAIN_RETURN_IF_ERROR(CheckValidationSplit(n, spec.validation_fraction(),
                                                   FieldPath(path, "validation_fraction")));
    const int64_t held_out = HeldOutSamples(n, spec.validation_fraction());
    const torch::Tensor order = torch::randperm(n, gen, torch::kLong);
    const torch::Tensor val_index = order.narrow(0, 0, held_out);
    const torch::Tensor train_index = std::get<0>(order.narrow(0, held_out, n - held_out).sort());
    data.validation = {data.train.x.index_select(0, val_index),
                       data.train.y.index_select(0, val_index)};
    data.train = {data.train.x.index_select(0, train_index),
                  data.train.y.index_select(0, train_index)};
  }
  if (spec.train_limit() > 0 && spec.train_limit() < data.train.size()) {
    data.train = {data.train.x.narrow(0, 0, spec.train_limit()).contiguous(),
                  data.train.y.narrow(0, 0, spec.train_limit()).contiguous()};
  }
  if (spec.test_limit() > 0 && spec.test_limit() < data.test.size()) {
    data.test = {data.test.x.narrow(0, 0, spec.test_limit()).contiguous(),
                 data.test.y.narrow(0, 0, spec.test_limit()).contiguous()};
  }
  data.description =
      absl::StrCat(source, ": ", data.train.size(), " train, ", data.validation.size(),
                   " validation, ", data.test.size(), " test, ", data.classes,
                   IsMultiLabel(data.train.y) ? " labels (multi-label)" : " classes");
  if (spec.has_normalize()) absl::StrAppend(&data.description, ", normalized per channel");
  if (Augments(spec.augment())) {
    absl::StrAppend(
        &data.description, ", training batches augmented (",
        spec.augment().random_crop_padding() > 0
            ? absl::StrCat("crops padded by ", spec.augment().random_crop_padding())
            : "",
        spec.augment().random_crop_padding() > 0 && spec.augment().horizontal_flip() ? ", " : "",
        spec.augment().horizontal_flip() ? "flips" : "", ")");
  }
  return data;
}

}  // namespace polytrain
