// Early return on error, the one macro our Status-returning code shares.
#ifndef POLYTRAIN_COMMON_STATUS_MACROS_H_
#define POLYTRAIN_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"

// Evaluates an expression yielding absl::Status and returns it from the enclosing function when
// it is not OK.
#define POLYTRAIN_RETURN_IF_ERROR(expr)                                 \
  do {                                                                  \
    if (::absl::Status _status = (expr); !_status.ok()) return _status; \
  } while (false)

#endif  // POLYTRAIN_COMMON_STATUS_MACROS_H_
