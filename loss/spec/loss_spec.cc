#include "loss/spec/loss_spec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/validation.h"

namespace polytrain::loss {
namespace {

// Where a softmax loss is told to look instead (probe CN: the message gave no way on).
constexpr char kAlphaSigmoidOnly[] =
    "alpha-balance applies to activation ACTIVATION_SIGMOID only (a softmax loss weighs classes "
    "with class_weights)";

using polytrain::v1::LossSpec;

absl::Status CheckGamma(absl::string_view field, double gamma) {
  return CheckRange(field, gamma, 0.0, kMaxGamma);
}

absl::Status CheckTermCount(absl::string_view field, int n, int min) {
  if (n < min)
    return InvalidField(
        field, absl::StrCat("needs at least ", min, min == 1 ? " entry" : " entries", ", got ", n));
  if (n > kMaxPolyTerms) {
    return InvalidField(field, absl::StrCat("at most ", kMaxPolyTerms, " terms, got ", n));
  }
  return absl::OkStatus();
}

// epsilon_j >= -1/j keeps alpha_j = 1/j + epsilon_j >= 0.
absl::Status CheckEpsilons(absl::string_view field,
                           const google::protobuf::RepeatedField<double>& eps, int min_count) {
  if (absl::Status s = CheckTermCount(field, eps.size(), min_count); !s.ok()) return s;
  for (int i = 0; i < eps.size(); ++i) {
    const int j = i + 1;
    if (absl::Status s = CheckRange(IndexPath(field, i), eps[i], -1.0 / j, kMaxCoefficient,
                                    j == 1 ? "-1" : absl::StrCat("-1/", j));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateForm(const LossSpec& spec, absl::string_view path) {
  switch (spec.form_case()) {
    case LossSpec::kCrossEntropy:
      return absl::OkStatus();
    case LossSpec::kFocal:
      return CheckGamma(FieldPath(path, "focal.gamma"), spec.focal().gamma());
    case LossSpec::kPoly1:
      return CheckRange(FieldPath(path, "poly1.epsilon"), spec.poly1().epsilon(), -1.0,
                        kMaxCoefficient);
    case LossSpec::kPolyN:
      return CheckEpsilons(FieldPath(path, "poly_n.epsilons"), spec.poly_n().epsilons(), 1);
    case LossSpec::kPolyFocal:
      if (absl::Status s =
              CheckGamma(FieldPath(path, "poly_focal.gamma"), spec.poly_focal().gamma());
          !s.ok()) {
        return s;
      }
      return CheckEpsilons(FieldPath(path, "poly_focal.epsilons"), spec.poly_focal().epsilons(), 0);
    case LossSpec::kDrop: {
      const int n = spec.drop().n();
      if (n < 1 || n > kMaxPolyTerms) {
        return InvalidField(FieldPath(path, "drop.n"),
                            absl::StrCat("must be in [1, ", kMaxPolyTerms, "], got ", n));
      }
      return absl::OkStatus();
    }
    case LossSpec::kCoefficients: {
      const auto& coef = spec.coefficients();
      const std::string field = FieldPath(path, "coefficients.alpha");
      if (absl::Status s = CheckTermCount(field, coef.alpha_size(), 1); !s.ok()) return s;
      for (int i = 0; i < coef.alpha_size(); ++i) {
        if (absl::Status s = CheckRange(IndexPath(field, i), coef.alpha(i), 0.0, kMaxCoefficient);
            !s.ok()) {
          return s;
        }
        // Training runs in float32, where such a coefficient is 0 (or a few bits of one): a
        // loss of them alone would be 0 on the worker while polyloss, in float64, shows it.
        if (coef.alpha(i) > 0.0 && coef.alpha(i) < std::numeric_limits<float>::min()) {
          return InvalidField(
              IndexPath(field, i),
              absl::StrFormat("%s is below %s, float32's smallest normal number (training runs "
                              "in float32, where it would be 0 or lose its digits); use 0 or a "
                              "larger value",
                              ExactNumber(coef.alpha(i)),
                              ExactNumber(std::numeric_limits<float>::min())));
        }
      }
      if (!coef.add_ce_tail() && std::all_of(coef.alpha().begin(), coef.alpha().end(),
                                             [](double a) { return a == 0.0; })) {
        return InvalidField(field,
                            "every alpha is 0 and add_ce_tail is off: the loss would be 0 for "
                            "every input, and nothing would train");
      }
      return CheckGamma(FieldPath(path, "coefficients.gamma"), coef.gamma());
    }
    case LossSpec::FORM_NOT_SET:
      break;
  }
  return InvalidField(FieldPath(path, "form"),
                      "no loss set: choose one of cross_entropy, focal, poly1, poly_n, poly_focal, "
                      "drop, coefficients");
}

PolySeries SeriesOf(const LossSpec& spec) {
  PolySeries s;
  switch (spec.form_case()) {
    case LossSpec::kFocal:
      s.gamma = spec.focal().gamma();
      break;
    case LossSpec::kPoly1:
      s.extra = {spec.poly1().epsilon()};
      break;
    case LossSpec::kPolyN:
      s.extra.assign(spec.poly_n().epsilons().begin(), spec.poly_n().epsilons().end());
      break;
    case LossSpec::kPolyFocal:
      s.gamma = spec.poly_focal().gamma();
      s.extra.assign(spec.poly_focal().epsilons().begin(), spec.poly_focal().epsilons().end());
      break;
    case LossSpec::kDrop:
      s.ce_tail = false;
      for (int j = 1; j <= spec.drop().n(); ++j) s.extra.push_back(1.0 / j);
      break;
    case LossSpec::kCoefficients: {
      const auto& coef = spec.coefficients();
      s.gamma = coef.gamma();
      s.ce_tail = coef.add_ce_tail();
      for (int i = 0; i < coef.alpha_size(); ++i) {
        // With the tail, c_j is what alpha_j adds on top of the series' own 1/j.
        s.extra.push_back(s.ce_tail ? coef.alpha(i) - 1.0 / (i + 1) : coef.alpha(i));
      }
      break;
    }
    case LossSpec::kCrossEntropy:
    case LossSpec::FORM_NOT_SET:
      break;
  }
  s.Normalize();
  return s;
}

}  // namespace

absl::Status ValidateLossSpec(const LossSpec& spec, absl::string_view path) {
  if (absl::Status s = ValidateForm(spec, path); !s.ok()) return s;

  if (!polytrain::v1::Activation_IsValid(spec.activation())) {
    return InvalidField(FieldPath(path, "activation"),
                        absl::StrCat("unknown value ", spec.activation()));
  }
  const bool sigmoid = spec.activation() == polytrain::v1::ACTIVATION_SIGMOID;
  if (!polytrain::v1::Reduction_IsValid(spec.reduction())) {
    return InvalidField(FieldPath(path, "reduction"),
                        absl::StrCat("unknown value ", spec.reduction()));
  }

  const std::string smoothing = FieldPath(path, "label_smoothing");
  if (absl::Status s = CheckFinite(smoothing, spec.label_smoothing()); !s.ok()) return s;
  if (spec.label_smoothing() < 0.0 || spec.label_smoothing() >= 1.0) {
    return InvalidField(
        smoothing, absl::StrCat("must be in [0, 1), got ", ExactNumber(spec.label_smoothing())));
  }

  const std::string weights = FieldPath(path, "class_weights");
  if (spec.class_weights_size() > kMaxClassWeights) {
    return InvalidField(weights, absl::StrCat("at most ", kMaxClassWeights, " entries, got ",
                                              spec.class_weights_size()));
  }
  bool any_positive = spec.class_weights().empty();
  for (int i = 0; i < spec.class_weights_size(); ++i) {
    if (absl::Status s =
            CheckRange(IndexPath(weights, i), spec.class_weights(i), 0.0, kMaxClassWeight);
        !s.ok()) {
      return s;
    }
    if (spec.class_weights(i) > 0.0 && spec.class_weights(i) < kMinPositiveClassWeight) {
      return InvalidField(
          IndexPath(weights, i),
          absl::StrFormat("must be 0 or at least %g, got %s", kMinPositiveClassWeight,
                          ExactNumber(spec.class_weights(i))));
    }
    any_positive = any_positive || spec.class_weights(i) > 0.0;
  }
  if (!any_positive) return InvalidField(weights, "at least one weight must be > 0");

  if (spec.has_alpha()) {
    if (!sigmoid) {
      return InvalidField(FieldPath(path, "alpha"), kAlphaSigmoidOnly);
    }
    if (absl::Status s = CheckRange(FieldPath(path, "alpha"), spec.alpha(), 0.0, 1.0); !s.ok()) {
      return s;
    }
  }
  // A sigmoid loss's targets are floating point (float32 at least): an ignore_index beyond 2^24
  // could not be told from its neighbours there.
  constexpr int64_t kExactInFloat32 = int64_t{1} << 24;
  if (sigmoid && spec.has_ignore_index() &&
      (spec.ignore_index() < -kExactInFloat32 || spec.ignore_index() > kExactInFloat32)) {
    return InvalidField(FieldPath(path, "ignore_index"),
                        absl::StrCat("a sigmoid loss compares it with float targets: use one in [",
                                     -kExactInFloat32, ", ", kExactInFloat32, "] (e.g. -1), got ",
                                     spec.ignore_index()));
  }
  if (!polytrain::v1::AlphaBalance_IsValid(spec.alpha_balance())) {
    return InvalidField(FieldPath(path, "alpha_balance"),
                        absl::StrCat("unknown value ", spec.alpha_balance()));
  }
  if (spec.alpha_balance() != polytrain::v1::ALPHA_BALANCE_UNSPECIFIED && !spec.has_alpha()) {
    return InvalidField(FieldPath(path, "alpha_balance"),
                        sigmoid ? "set alpha too: there is no balance" : kAlphaSigmoidOnly);
  }
  return absl::OkStatus();
}

absl::StatusOr<LossConfig> ToLossConfig(const LossSpec& spec, absl::string_view path) {
  if (absl::Status s = ValidateLossSpec(spec, path); !s.ok()) return s;
  LossConfig config;
  config.series = SeriesOf(spec);
  config.activation = spec.activation() == polytrain::v1::ACTIVATION_SIGMOID ? Activation::kSigmoid
                                                                             : Activation::kSoftmax;
  config.label_smoothing = spec.label_smoothing();
  config.class_weights.assign(spec.class_weights().begin(), spec.class_weights().end());
  if (spec.has_alpha()) config.alpha = spec.alpha();
  config.alpha_on_ce_only = spec.alpha_balance() == polytrain::v1::ALPHA_BALANCE_CE_TERM_ONLY;
  if (spec.has_ignore_index()) config.ignore_index = spec.ignore_index();
  switch (spec.reduction()) {
    case polytrain::v1::REDUCTION_SUM:
      config.reduction = Reduction::kSum;
      break;
    case polytrain::v1::REDUCTION_NONE:
      config.reduction = Reduction::kNone;
      break;
    default:
      config.reduction = Reduction::kMean;
  }
  return config;
}

}  // namespace polytrain::loss
