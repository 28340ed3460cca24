#include "common/json_complaint.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace polytrain {

namespace {

// What a value of protobuf's JSON type name must be: "TYPE_INT32", or "type.googleapis.com/X"
// for an enum or message X.
std::string ExpectedJsonValue(absl::string_view type) {
  if (type == "TYPE_INT32" || type == "TYPE_SINT32" || type == "TYPE_SFIXED32") {
    return "must be a whole number from -2147483648 to 2147483647";
  }
  if (type == "TYPE_UINT32" || type == "TYPE_FIXED32") {
    return "must be a whole number from 0 to 4294967295";
  }
  if (type == "TYPE_INT64" || type == "TYPE_SINT64" || type == "TYPE_SFIXED64") {
    return "must be a whole number from -2^63 to 2^63-1";
  }
  if (type == "TYPE_UINT64" || type == "TYPE_FIXED64") {
    return "must be a whole number from 0 to 2^64-1";
  }
  if (type == "TYPE_DOUBLE" || type == "TYPE_FLOAT") return "must be a number";
  if (type == "TYPE_BOOL") return "must be true or false";
  if (type == "TYPE_STRING") return "must be a string";
  if (type == "TYPE_BYTES") return "must be base64 text";
  absl::string_view name = type;
  if (absl::ConsumePrefix(&name, "type.googleapis.com/")) {
    const google::protobuf::DescriptorPool* pool =
        google::protobuf::DescriptorPool::generated_pool();
    if (const auto* map = pool->FindMessageTypeByName(std::string(name));
        map != nullptr && map->options().map_entry()) {
      return "must be an object of names to values";
    }
    if (const auto* values = pool->FindEnumTypeByName(std::string(name))) {
      std::vector<std::string> names;
      for (int i = 0; i < values->value_count(); ++i) names.push_back(values->value(i)->name());
      return absl::StrCat("must be one of ", absl::StrJoin(names, ", "));
    }
    return absl::StrCat("must be an object (a ", name, ")");
  }
  return absl::StrCat("must be a ", type);
}

// protobuf's "invalid value oneof field 'form' is already set. Cannot set 'focal' for type
// oneof" in our words; empty when `why` is not that.
std::string OneofComplaint(absl::string_view why) {
  if (!absl::ConsumePrefix(&why, "invalid value oneof field '")) return "";
  return absl::StrCat("more than one field of '", why.substr(0, why.find('\'')),
                      "' is set; give one");
}

}  // namespace

// protobuf's JSON parser says "(a.b) c: Cannot find field." and "(a.b): invalid value "x" for
// type TYPE_INT32"; as our other errors name a field: "a.b.c: no such field" and "a.b: must be a
// whole number from ..., got "x"".
std::string ReadableJsonComplaint(absl::string_view why) {
  const std::string as_said(why);
  if (const std::string oneof = OneofComplaint(why); !oneof.empty()) return oneof;
  if (!absl::StartsWith(why, "(") && absl::ConsumeSuffix(&why, ": Cannot find field.")) {
    return absl::StrCat(why, ": no such field");  // a top-level field: no parentheses
  }
  if (!absl::ConsumePrefix(&why, "(")) return as_said;
  const size_t close = why.find(')');
  if (close == absl::string_view::npos) return as_said;
  std::string path(why.substr(0, close));
  absl::string_view rest = why.substr(close + 1);
  if (absl::ConsumePrefix(&rest, " ")) {  // "(a.b) c: why": c is a member of a.b
    const size_t colon = rest.find(": ");
    if (colon == absl::string_view::npos) return as_said;
    absl::StrAppend(&path, path.empty() ? "" : ".", rest.substr(0, colon));
    rest.remove_prefix(colon + 2);
  } else if (!absl::ConsumePrefix(&rest, ": ")) {
    return as_said;
  }
  std::string readable(rest);
  const size_t for_type = rest.rfind(" for type ");
  if (const std::string oneof = OneofComplaint(rest); !oneof.empty()) {
    readable = oneof;
  } else if (rest == "Cannot find field.") {
    readable = "no such field";
  } else if (absl::ConsumePrefix(&rest, "invalid value ") && for_type != absl::string_view::npos) {
    const size_t value_length = for_type - std::string("invalid value ").size();
    readable = absl::StrCat(ExpectedJsonValue(rest.substr(value_length + 10)), ", got ",
                            rest.substr(0, value_length));
  }
  return path.empty() ? readable : absl::StrCat(path, ": ", readable);
}

}  // namespace polytrain
