// protobuf's JSON parser's complaints in our words, as every other error names a field: its
// "(a.b) c: Cannot find field." is "a.b.c: no such field", its "(a.b): invalid value "x" for
// type TYPE_INT32" is "a.b: must be a whole number from -2147483648 to 2147483647, got "x"", an
// enum's values are listed, and a oneof given twice is said so. The Python client words the same
// complaints the same way (client/python/polytrain/_messages.py).
#ifndef POLYTRAIN_COMMON_JSON_COMPLAINT_H_
#define POLYTRAIN_COMMON_JSON_COMPLAINT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polytrain {

// `why` (one line of JsonStringToMessage's error, its leading ": " removed) reworded; as it was
// when it is none of the complaints above.
std::string ReadableJsonComplaint(absl::string_view why);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_JSON_COMPLAINT_H_
