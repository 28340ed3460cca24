#include "loss/core/describe.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace polytrain::loss {
namespace {

// Shortest round-trippable-enough rendering of a number for people: %g with 6 digits; -0 is 0.
// A fraction that 6 digits would round to a whole number (a smoothing of 0.9999999 read as "1")
// gets the digits that tell it from one.
std::string Num(double v) {
  char buf[32];
  if (v == 0.0) v = 0.0;
  std::snprintf(buf, sizeof(buf), "%g", v);
  const double shown = std::strtod(buf, nullptr);
  if (shown == v || shown != std::trunc(shown) || v == std::trunc(v)) return buf;
  for (int digits = 7; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) != std::trunc(std::strtod(buf, nullptr))) break;
  }
  return buf;
}

// The shortest text that reads back as v (at least %g's 6 digits); -0 is 0. common's
// ExactNumber is the same rule; loss/core depends on nothing outside the standard library.
std::string ExactNum(double v) {
  char buf[32];
  if (v == 0.0) v = 0.0;
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

bool IsDropSeries(const PolySeries& s) {
  if (s.ce_tail || s.gamma != 0.0 || s.extra.empty()) return false;
  for (size_t j = 0; j < s.extra.size(); ++j) {
    if (s.extra[j] != 1.0 / static_cast<double>(j + 1)) return false;
  }
  return true;
}

const char* ActivationName(Activation a) {
  return a == Activation::kSigmoid ? "sigmoid" : "softmax";
}

const char* ReductionName(Reduction r) {
  switch (r) {
    case Reduction::kSum:
      return "sum";
    case Reduction::kNone:
      return "none";
    case Reduction::kMean:
      break;
  }
  return "mean";
}

// FNV-1a over every field, numbers at full precision: 12 hex digits (48 bits) that tell apart
// losses whose short names would otherwise be equal (a 1000-trial search collides with
// probability about 2e-9).
std::string ConfigDigest(const LossConfig& config) {
  std::string text;
  auto add = [&](double v) {
    char buf[40];
    // -0 and 0 are one loss (its canonical spec writes 0): "-0" would give it a second name.
    std::snprintf(buf, sizeof(buf), "%.17g;", v == 0.0 ? 0.0 : v);
    text += buf;
  };
  const PolySeries& s = config.series;
  text += s.ce_tail ? "tail;" : "explicit;";
  add(s.gamma);
  for (double v : s.extra) add(v);
  text += "|";
  for (double v : config.class_weights) add(v);
  text += "|" + std::to_string(static_cast<int>(config.activation)) + ";";
  add(config.label_smoothing);
  if (config.alpha) add(*config.alpha);
  text += config.alpha_on_ce_only ? "ce;" : ";";
  if (config.ignore_index) text += std::to_string(*config.ignore_index);
  text += ";" + std::to_string(static_cast<int>(config.reduction));
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char out[16];
  std::snprintf(out, sizeof(out), "%012llx",
                static_cast<unsigned long long>(hash & 0xffffffffffffULL));
  return out;
}

}  // namespace

std::string FamilyName(const PolySeries& s) {
  const int k = s.NumExtraTerms();
  const bool focal = s.gamma != 0.0;
  if (!s.ce_tail) return IsDropSeries(s) ? "drop" : "explicit coefficients";
  if (k == 0) return focal ? "focal" : "cross-entropy";
  if (k == 1) return focal ? "Poly-1 focal" : "Poly-1";
  return focal ? "Poly-N focal" : "Poly-N";
}

std::string ShortName(const LossConfig& config) {
  const PolySeries& s = config.series;
  const int k = s.NumExtraTerms();
  // Set when the name leaves out something that tells two losses apart (a long list, a number
  // %g rounds, class weights): a digest of the whole configuration then ends the name.
  bool partial = false;
  auto num = [&](double v) {
    const std::string text = Num(v);
    if (std::strtod(text.c_str(), nullptr) != v) partial = true;
    return text;
  };
  auto list = [&](const std::vector<double>& values) {
    std::string text;
    for (double v : values) text += (text.empty() ? "" : ",") + num(v);
    return text;
  };
  const bool listed = k <= kMaxListedTerms;
  std::string name;
  if (!s.ce_tail) {
    if (IsDropSeries(s)) {
      name = "drop(n=" + std::to_string(k) + ")";
    } else {
      name = listed ? "coef(a=" + list(s.extra) + ",g=" + num(s.gamma) + ")"
                    : "coef(K=" + std::to_string(k) + ",g=" + num(s.gamma) + ")";
    }
  } else if (k == 0) {
    name = s.gamma == 0.0 ? "ce" : "focal(g=" + num(s.gamma) + ")";
  } else if (k == 1) {
    name = s.gamma == 0.0 ? "poly1(e=" + num(s.extra[0]) + ")"
                          : "poly1_focal(g=" + num(s.gamma) + ",e=" + num(s.extra[0]) + ")";
  } else {
    const std::string terms = listed ? "e=" + list(s.extra) : "N=" + std::to_string(k);
    name = s.gamma == 0.0 ? "poly_n(" + terms + ")"
                          : "poly_focal(g=" + num(s.gamma) + "," + terms + ")";
  }
  partial = partial || (!listed && !IsDropSeries(s)) || !config.class_weights.empty();
  if (config.activation == Activation::kSigmoid) name = "sigmoid_" + name;
  if (config.label_smoothing != 0.0) name += ",ls=" + num(config.label_smoothing);
  if (config.alpha) name += ",a=" + num(*config.alpha) + (config.alpha_on_ce_only ? "@ce" : "");
  if (config.reduction != Reduction::kMean)
    name += std::string(",") + ReductionName(config.reduction);
  if (config.ignore_index) name += ",ig=" + std::to_string(*config.ignore_index);
  // Bounded whatever the numbers (a long one-line name helps nobody): cut, the digest tells.
  constexpr size_t kDigestSuffix = 13;  // "#" and 12 hex digits
  if (!partial && name.size() <= kMaxShortNameLength) return name;
  if (name.size() > kMaxShortNameLength - kDigestSuffix) {
    name.resize(kMaxShortNameLength - kDigestSuffix);
  }
  return name + "#" + ConfigDigest(config);
}

std::string Describe(const LossConfig& config, int max_alpha_rows) {
  const PolySeries& s = config.series;
  std::ostringstream out;
  out << "loss:        " << FamilyName(s) << "  [" << ShortName(config) << "]\n";

  // The formula in the paper's notation, x = 1 - pt.
  const bool focal = s.gamma != 0.0;
  out << "formula:     L(pt) = " << (focal ? "(1-pt)^" + Num(s.gamma) + " * (" : "");
  if (s.ce_tail) out << "-log(pt)";
  for (int j = 1; j <= s.NumExtraTerms(); ++j) {
    const double c = s.extra[j - 1];
    if (j > 3 && j < s.NumExtraTerms()) {
      if (j == 4) out << " + ...";
      continue;
    }
    if (c == 0.0) continue;
    const bool first = !s.ce_tail && j == 1;
    out << (first ? "" : (c < 0 ? " - " : " + ")) << Num(first ? c : std::fabs(c));
    out << "*(1-pt)" << (j == 1 ? "" : "^" + std::to_string(j));
  }
  out << (focal ? ")\n" : "\n");

  out << "series:      sum_j alpha_j (1-pt)^" << (focal ? "(j+" + Num(s.gamma) + ")" : "j");
  if (s.ce_tail) {
    out << ", alpha_j = 1/j";
    if (s.NumExtraTerms() > 0)
      out << " + epsilon_j (epsilon_j = 0 for j > " << s.NumExtraTerms() << ")";
    out << "\n";
  } else {
    out << ", " << s.NumExtraTerms() << " terms\n";
  }
  const int rows = std::max(s.NumExtraTerms(), s.ce_tail ? 3 : 0);
  for (int j = 1; j <= std::min(rows, max_alpha_rows); ++j) {
    char line[96];
    // Exact where 6 digits would round it: the coefficients are what a user checks.
    std::snprintf(line, sizeof(line), "  alpha_%-5d = %s\n", j, ExactNum(s.Alpha(j)).c_str());
    out << line;
  }
  if (rows > max_alpha_rows) out << "  ... (" << rows - max_alpha_rows << " more)\n";
  if (s.ce_tail) out << "  alpha_j     = 1/j for every later j (the cross-entropy tail)\n";

  out << "activation:  " << ActivationName(config.activation) << "\n";
  out << "reduction:   " << ReductionName(config.reduction) << "\n";
  if (config.label_smoothing != 0.0) {
    out << "smoothing:   " << Num(config.label_smoothing) << "\n";
  }
  if (!config.class_weights.empty()) {
    out << "weights:     " << config.class_weights.size() << " classes\n";
  }
  if (config.alpha) {
    out << "alpha:       " << Num(*config.alpha)
        << (config.alpha_on_ce_only ? " (weighs the cross-entropy term only)" : "") << "\n";
  }
  if (config.ignore_index) out << "ignore:      targets == " << *config.ignore_index << "\n";
  return out.str();
}

}  // namespace polytrain::loss
