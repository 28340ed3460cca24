// Invariants the fuzz harnesses assert on what validation accepts: a LossSpec's canonical form
// is a fixed point and evaluates to a sane curve; a JobSpec survives the serializations it goes
// through on its way to a worker. A violated invariant prints what broke and traps, so that
// libFuzzer keeps the input as a crash.
#ifndef POLYTRAIN_FUZZ_FUZZ_CHECKS_H_
#define POLYTRAIN_FUZZ_FUZZ_CHECKS_H_

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "api/job_spec.h"
#include "api/job_spec_defaults.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "loss/core/describe.h"
#include "loss/core/loss_config.h"
#include "loss/core/scalar_loss.h"
#include "loss/spec/loss_spec.h"
#include "polytrain/v1/job.pb.h"
#include "polytrain/v1/loss.pb.h"

namespace polytrain::fuzz {

// Traps with the failed condition and a note (a value, a status) on stderr.
#define POLYTRAIN_FUZZ_CHECK(cond, note)                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: invariant violated: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(note).c_str());                                                \
      __builtin_trap();                                                                       \
    }                                                                                         \
  } while (0)

// Protobuf logs every binary parse of a bad UTF-8 string; that is expected input here, and
// printing it slows the fuzzer down.
inline void SilenceProtobufLogs() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

// A rejection is INVALID_ARGUMENT naming a field under `path`.
inline void CheckRejection(const absl::Status& status, absl::string_view path) {
  POLYTRAIN_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  POLYTRAIN_FUZZ_CHECK(absl::StartsWith(status.message(), path), status.ToString());
}

// The LossSpec that spells a canonical config with as little arithmetic as possible, so that it
// must canonicalize back to exactly the same config: poly_n / poly_focal carry the c_j as they
// are, coefficients without the tail carry them as alpha_j.
inline polytrain::v1::LossSpec CanonicalSpec(const loss::LossConfig& config) {
  polytrain::v1::LossSpec spec;
  const loss::PolySeries& s = config.series;
  if (!s.ce_tail) {
    auto* coef = spec.mutable_coefficients();
    coef->set_gamma(s.gamma);
    for (double c : s.extra) coef->add_alpha(c);
    // All alpha_j = 0 is a valid spec (the zero loss); the form needs one entry to say it.
    if (s.extra.empty()) coef->add_alpha(0.0);
  } else if (s.gamma == 0.0) {
    if (s.extra.empty()) {
      spec.mutable_cross_entropy();
    } else {
      for (double c : s.extra) spec.mutable_poly_n()->add_epsilons(c);
    }
  } else {
    auto* focal = spec.mutable_poly_focal();
    focal->set_gamma(s.gamma);
    for (double c : s.extra) focal->add_epsilons(c);
  }
  spec.set_activation(config.activation == loss::Activation::kSigmoid
                          ? polytrain::v1::ACTIVATION_SIGMOID
                          : polytrain::v1::ACTIVATION_SOFTMAX);
  spec.set_label_smoothing(config.label_smoothing);
  for (double w : config.class_weights) spec.add_class_weights(w);
  if (config.alpha.has_value()) spec.set_alpha(*config.alpha);
  if (config.ignore_index.has_value()) spec.set_ignore_index(*config.ignore_index);
  switch (config.reduction) {
    case loss::Reduction::kMean:
      spec.set_reduction(polytrain::v1::REDUCTION_MEAN);
      break;
    case loss::Reduction::kSum:
      spec.set_reduction(polytrain::v1::REDUCTION_SUM);
      break;
    case loss::Reduction::kNone:
      spec.set_reduction(polytrain::v1::REDUCTION_NONE);
      break;
  }
  return spec;
}

inline bool SameConfig(const loss::LossConfig& a, const loss::LossConfig& b) {
  return a.series == b.series && a.activation == b.activation &&
         a.label_smoothing == b.label_smoothing && a.class_weights == b.class_weights &&
         a.alpha == b.alpha && a.ignore_index == b.ignore_index && a.reduction == b.reduction;
}

// L(pt) and dL/dpt of a canonical series at `pts` (each in [0, 1]). What sample_math.h and
// scalar_loss.h promise: never NaN; finite for pt > 0 (the smallest pts tried are >= 1e-300, so
// -1/pt stays finite); +inf at pt = 0 exactly when the CE tail is there; 0 at pt = 1. Every
// alpha_j is >= 0, so L >= 0 and dL/dpt <= 0, up to rounding relative to the terms' size.
inline void CheckCurve(const loss::PolySeries& series, const std::vector<double>& pts) {
  const std::vector<loss::CurvePoint> curve = loss::EvaluateCurve(series, pts);
  POLYTRAIN_FUZZ_CHECK(curve.size() == pts.size(), "one point per pt");
  double coef_sum = 0.0, jcoef_sum = 0.0;
  for (int j = 1; j <= series.NumExtraTerms(); ++j) {
    coef_sum += std::fabs(series.extra[j - 1]);
    jcoef_sum += j * std::fabs(series.extra[j - 1]);
  }
  for (const loss::CurvePoint& p : curve) {
    const std::string where = "pt=" + std::to_string(p.pt) + " loss=" + std::to_string(p.loss) +
                              " dloss=" + std::to_string(p.dloss_dpt);
    POLYTRAIN_FUZZ_CHECK(!std::isnan(p.loss) && !std::isnan(p.dloss_dpt), where);
    if (p.pt == 0.0) {
      POLYTRAIN_FUZZ_CHECK(series.ce_tail ? p.loss == INFINITY : std::isfinite(p.loss), where);
      continue;
    }
    POLYTRAIN_FUZZ_CHECK(std::isfinite(p.loss) && std::isfinite(p.dloss_dpt), where);
    if (p.pt == 1.0) POLYTRAIN_FUZZ_CHECK(p.loss == 0.0, where);
    const double x = 1.0 - p.pt;
    const double ce = -std::log(p.pt);
    const double scale = 1.0 + ce + coef_sum;
    const double dscale =
        1.0 + 1.0 / p.pt + jcoef_sum + series.gamma * (x > 0.0 ? ce / x + coef_sum : 0.0);
    POLYTRAIN_FUZZ_CHECK(p.loss >= -1e-9 * scale, where);
    POLYTRAIN_FUZZ_CHECK(p.dloss_dpt <= 1e-9 * dscale, where);
  }
}

// The points every accepted loss is evaluated at: both ends, the extremes that still have a
// finite derivative, and the middle.
inline std::vector<double> StandardPts() {
  return {0.0, 1e-300, 1e-12, 1e-3, 0.05, 0.5, 0.95, 1.0 - 1e-12, 1.0};
}

// A spec found at `path` (e.g. "spec.loss"; "" at top level). Rejected: INVALID_ARGUMENT with the
// path. Accepted: the canonical form is a fixed point, the words for it are bounded, and the
// curve is sane at `pts`.
inline void CheckLossSpec(const polytrain::v1::LossSpec& spec, absl::string_view path,
                          const std::vector<double>& pts) {
  const absl::Status valid = loss::ValidateLossSpec(spec, path);
  absl::StatusOr<loss::LossConfig> config = loss::ToLossConfig(spec, path);
  POLYTRAIN_FUZZ_CHECK(valid.ok() == config.ok(), valid.ToString());
  if (!config.ok()) {
    CheckRejection(config.status(), path);
    return;
  }
  // Canonicalizing the canonical form changes nothing.
  const polytrain::v1::LossSpec canonical = CanonicalSpec(*config);
  absl::StatusOr<loss::LossConfig> again = loss::ToLossConfig(canonical, path);
  POLYTRAIN_FUZZ_CHECK(again.ok(), again.status().ToString() + " for " + canonical.DebugString());
  POLYTRAIN_FUZZ_CHECK(SameConfig(*config, *again), canonical.DebugString());
  POLYTRAIN_FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(canonical, CanonicalSpec(*again)),
      canonical.DebugString());

  // Names: one of the documented members; a short label whatever N is.
  static const char* const kFamilies[] = {
      "cross-entropy", "focal",        "Poly-1", "Poly-N",
      "Poly-1 focal",  "Poly-N focal", "drop",   "explicit coefficients"};
  const std::string family = loss::FamilyName(config->series);
  bool known = false;
  for (const char* f : kFamilies) known = known || family == f;
  POLYTRAIN_FUZZ_CHECK(known, family);
  const std::string short_name = loss::ShortName(*config);
  POLYTRAIN_FUZZ_CHECK(!short_name.empty() && short_name.size() <= 96, short_name);
  POLYTRAIN_FUZZ_CHECK(short_name == loss::ShortName(*again), short_name);
  POLYTRAIN_FUZZ_CHECK(!loss::Describe(*config, 3).empty(), "describe");

  CheckCurve(config->series, pts);
}

// A JobSpec as parsed from a user's file. Rejected: INVALID_ARGUMENT under "spec". Accepted: its
// loss canonicalizes, the defaults are usable, and the spec survives what happens to it on the
// way to a worker (binary serialization: gRPC and the coordinator's store) unchanged and still
// valid, as does a text-format round trip (polyctl prints specs).
inline void CheckJobSpec(const polytrain::v1::JobSpec& spec) {
  const absl::Status status = ValidateJobSpec(spec);
  if (!status.ok()) {
    CheckRejection(status, "spec");
    return;
  }
  CheckLossSpec(spec.loss(), "spec.loss", StandardPts());

  POLYTRAIN_FUZZ_CHECK(!CnnChannels(spec.model().cnn()).empty(), "cnn channels");
  for (int c : CnnChannels(spec.model().cnn())) POLYTRAIN_FUZZ_CHECK(c >= 1, "cnn channel");
  for (int c : ResNetChannels(spec.model().resnet())) POLYTRAIN_FUZZ_CHECK(c >= 1, "resnet");
  POLYTRAIN_FUZZ_CHECK(CnnHidden(spec.model().cnn()) >= 1, "cnn hidden");
  POLYTRAIN_FUZZ_CHECK(ResNetBlocks(spec.model().resnet()) >= 1, "resnet blocks");
  POLYTRAIN_FUZZ_CHECK(EvalEveryEpochs(spec) >= 1 && EvalBatchSize(spec) >= 1, "eval");
  POLYTRAIN_FUZZ_CHECK(CalibrationBins(spec) >= 1 && CheckpointKeepLast(spec) >= 1, "defaults");
  POLYTRAIN_FUZZ_CHECK(LogEverySteps(spec) >= 1 && Threads(spec) >= 1, "defaults");
  POLYTRAIN_FUZZ_CHECK(MaxAttempts(spec) >= 1, "max attempts");

  std::string wire;
  POLYTRAIN_FUZZ_CHECK(spec.SerializeToString(&wire), "serialize");
  polytrain::v1::JobSpec from_wire;
  POLYTRAIN_FUZZ_CHECK(from_wire.ParseFromString(wire),
                       "an accepted spec does not parse back from the wire: " + spec.DebugString());
  POLYTRAIN_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(spec, from_wire),
                       spec.DebugString());
  POLYTRAIN_FUZZ_CHECK(ValidateJobSpec(from_wire).ok(), spec.DebugString());

  std::string text;
  POLYTRAIN_FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(spec, &text), "print");
  polytrain::v1::JobSpec from_text;
  POLYTRAIN_FUZZ_CHECK(google::protobuf::TextFormat::ParseFromString(text, &from_text), text);
  POLYTRAIN_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(spec, from_text), text);
}

}  // namespace polytrain::fuzz

#endif  // POLYTRAIN_FUZZ_FUZZ_CHECKS_H_
