// Words for a loss: the name of the family member a canonical series is, a short label for
// tables and metric labels, and the multi-line description `polyloss describe` prints.
#ifndef POLYTRAIN_LOSS_CORE_DESCRIBE_H_
#define POLYTRAIN_LOSS_CORE_DESCRIBE_H_

#include <string>

#include "loss/core/loss_config.h"

namespace polytrain::loss {

// The member of the family, recognized from the canonical form alone (so poly1 with
// epsilon 0 is "cross-entropy"): "cross-entropy", "focal", "Poly-1", "Poly-N", "Poly-1 focal",
// "Poly-N focal", "drop" or "explicit coefficients".
std::string FamilyName(const PolySeries& series);

// A short one-line label that tells losses apart: "ce", "focal(g=2)", "poly1(e=2)",
// "poly_n(e=1,0.5)", "drop(n=10)", then the options (",ls=0.1", ",a=0.25", ",sum", ",ig=-100").
// Where it must leave something out (more than kMaxListedTerms coefficients, class weights, a
// number that 6 digits round, a name past kMaxShortNameLength), a digest of the whole
// configuration (12 hex digits) ends it: "poly_n(N=50)#069f01c9581d". At most
// kMaxShortNameLength characters.
inline constexpr int kMaxListedTerms = 3;
inline constexpr size_t kMaxShortNameLength = 96;
std::string ShortName(const LossConfig& config);

// The formula, the options and the first `max_alpha_rows` coefficients alpha_j.
std::string Describe(const LossConfig& config, int max_alpha_rows = 10);

}  // namespace polytrain::loss

#endif  // POLYTRAIN_LOSS_CORE_DESCRIBE_H_
