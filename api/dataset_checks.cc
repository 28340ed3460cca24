#include "api/dataset_checks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/limits.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace polytrain {
namespace {

// The smallest nonzero |x - mean| over float32 values x: the spacing of float32 at the mean.
float SmallestStepFrom(float mean) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  return std::min(std::nextafter(mean, kInf) - mean, mean - std::nextafter(mean, -kInf));
}

}  // namespace

absl::Status CheckNormalization(const polytrain::v1::Normalization& normalize,
                                const std::string& path) {
  if (normalize.mean_size() < 1 || normalize.mean_size() > kMaxNormalizedChannels) {
    return InvalidField(
        FieldPath(path, "mean"),
        absl::StrCat("needs 1 to ", kMaxNormalizedChannels,
                     " values (one per channel, or one), got ", normalize.mean_size()));
  }
  if (normalize.std_size() != normalize.mean_size()) {
    return InvalidField(FieldPath(path, "std"),
                        absl::StrCat("needs as many values as mean (", normalize.mean_size(),
                                     "), got ", normalize.std_size()));
  }
  // Applied in the data's precision (float32): bounds that stay finite and nonzero there.
  for (int i = 0; i < normalize.mean_size(); ++i) {
    const std::string mean_field = IndexPath(FieldPath(path, "mean"), i);
    const std::string std_field = IndexPath(FieldPath(path, "std"), i);
    POLYTRAIN_RETURN_IF_ERROR(CheckRange(mean_field, normalize.mean(i), -1e30, 1e30));
    POLYTRAIN_RETURN_IF_ERROR(CheckRange(std_field, normalize.std(i), 1e-30, 1e30));
    // Whatever the samples: the nearest float32 neighbour of the mean lands past float32's range.
    const float step = SmallestStepFrom(static_cast<float>(normalize.mean(i)));
    if (std::isinf(step / static_cast<float>(normalize.std(i)))) {
      return InvalidField(
          std_field, absl::StrCat(ExactNumber(normalize.std(i)), " with ", mean_field, " ",
                                  ExactNumber(normalize.mean(i)),
                                  " makes every float32 value but the mean itself infinite once "
                                  "normalized ((x - mean) / std is past float32's range)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKnownSampleShape(const polytrain::v1::DatasetSpec& data,
                                   const std::string& path) {
  if (!data.has_synthetic() && !data.has_fashion_mnist()) return absl::OkStatus();
  const std::string shape =
      data.has_synthetic() ? absl::StrCat("[", data.synthetic().features(), "]") : "[1, 28, 28]";
  const polytrain::v1::Augmentation& augment = data.augment();
  if (data.has_synthetic() && (augment.random_crop_padding() > 0 || augment.horizontal_flip())) {
    return InvalidField(
        FieldPath(path, "augment"),
        absl::StrCat("needs image samples ([H, W] or [C, H, W]); these are ", shape));
  }
  if (data.has_normalize() && data.normalize().mean_size() != 1) {
    return InvalidField(FieldPath(path, "normalize.mean"),
                        absl::StrCat("has ", data.normalize().mean_size(), " values, but samples ",
                                     shape, " have 1 channel(s): give one per channel, or one"));
  }
  return absl::OkStatus();
}

int64_t HeldOutSamples(int64_t train_samples, double fraction) {
  return static_cast<int64_t>(std::floor(static_cast<double>(train_samples) * fraction));
}

absl::Status CheckValidationSplit(int64_t train_samples, double fraction, absl::string_view field) {
  // fraction is at most 0.5: a split never takes every sample.
  if (HeldOutSamples(train_samples, fraction) >= 1) return absl::OkStatus();
  return InvalidField(field, absl::StrCat(absl::StrFormat("%g", fraction), " of ", train_samples,
                                          " training samples is less than one sample: no "
                                          "validation split; raise it or use more samples"));
}

absl::Status CheckKnownValidationSplit(const polytrain::v1::DatasetSpec& data,
                                       const std::string& path) {
  if (!data.has_synthetic() || data.validation_fraction() == 0) return absl::OkStatus();
  return CheckValidationSplit(data.synthetic().train_samples(), data.validation_fraction(),
                              FieldPath(path, "validation_fraction"));
}

absl::Status CheckDropLastBatch(int64_t train_samples, int64_t batch_size,
                                absl::string_view field) {
  if (train_samples >= batch_size) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("the training split holds ", train_samples,
                                          " samples, fewer than batch_size (", batch_size,
                                          "): every batch would be dropped"));
}

absl::Status CheckKnownDropLast(const polytrain::v1::JobSpec& spec, const std::string& path) {
  const polytrain::v1::DatasetSpec& data = spec.dataset();
  if (!spec.drop_last() || !data.has_synthetic()) return absl::OkStatus();
  // As the worker splits it (worker/dataset.cc): the held-out samples, then train_limit.
  const int64_t samples = data.synthetic().train_samples();
  int64_t train = samples - HeldOutSamples(samples, data.validation_fraction());
  if (data.train_limit() > 0) train = std::min(train, data.train_limit());
  return CheckDropLastBatch(train, spec.batch_size(), FieldPath(path, "drop_last"));
}

}  // namespace polytrain
