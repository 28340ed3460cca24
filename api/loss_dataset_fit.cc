#include "api/loss_dataset_fit.h"

#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace polytrain {

int64_t KnownClasses(const polytrain::v1::DatasetSpec& dataset) {
  if (dataset.has_fashion_mnist()) return 10;
  if (dataset.has_synthetic()) return dataset.synthetic().classes();
  return 0;
}

absl::Status CheckLossFitsDataset(const polytrain::v1::LossSpec& loss, absl::string_view loss_path,
                                  const polytrain::v1::DatasetSpec& dataset) {
  const int64_t classes = KnownClasses(dataset);
  if (classes == 0) return absl::OkStatus();
  if (!loss.class_weights().empty() && loss.class_weights_size() != classes) {
    return InvalidField(FieldPath(loss_path, "class_weights"),
                        absl::StrCat("has ", loss.class_weights_size(),
                                     " entries but the dataset has ", classes, " classes"));
  }
  return CheckIgnoredClass(loss, loss_path, classes);
}

absl::Status CheckIgnoredClass(const polytrain::v1::LossSpec& loss, absl::string_view loss_path,
                               int64_t classes) {
  if (!loss.has_ignore_index() || loss.activation() == polytrain::v1::ACTIVATION_SIGMOID ||
      (loss.ignore_index() >= 0 && loss.ignore_index() < classes)) {
    return absl::OkStatus();
  }
  return InvalidField(
      FieldPath(loss_path, "ignore_index"),
      absl::StrCat(loss.ignore_index(), " is no class of the dataset (its labels are in [0, ",
                   classes, ")), so it would ignore nothing; leave it unset for that"));
}

}  // namespace polytrain
