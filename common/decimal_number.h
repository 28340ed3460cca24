// Numbers written as text, as a spec file may hold them: decimal only.
#ifndef POLYTRAIN_COMMON_DECIMAL_NUMBER_H_
#define POLYTRAIN_COMMON_DECIMAL_NUMBER_H_

#include "absl/strings/string_view.h"

namespace polytrain {

// A number as JSON writes one, with an optional sign: decimal digits with an optional fraction
// and exponent ("-12", "0.5", ".5", "1e-3"). Not "0x1F", "nan(1)", "inf", "1_000" or " 1", which
// strtod and absl read as numbers too.
bool IsDecimalNumber(absl::string_view text);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_DECIMAL_NUMBER_H_
