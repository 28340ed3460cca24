#include "common/json_shape.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/decimal_number.h"

namespace polytrain {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

const char* KindOf(const nlohmann::json& value) {
  if (value.is_array()) return "a list";
  if (value.is_object()) return "an object";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  return "a number";
}

const FieldDescriptor* FieldNamed(const Descriptor& type, const std::string& key) {
  if (const FieldDescriptor* field = type.FindFieldByName(key)) return field;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);
  }
  return nullptr;
}

bool IsWellKnown(const Descriptor& type) {
  return absl::StartsWith(type.full_name(), "google.protobuf.");
}

absl::Status CheckMessage(const Descriptor& type, const JsonShapeOptions& options,
                          const std::string& path, nlohmann::json* value);

// One value of `field` (an element, for a repeated one).
absl::Status CheckSingle(const FieldDescriptor& field, const JsonShapeOptions& options,
                         const std::string& path, nlohmann::json* value) {
  if (value->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", field.is_repeated() ? "a list inside a list" : "a list",
                     " where one value belongs"));
  }
  // protobuf's parser also takes "true", "yes", "1" or "t" for a boolean: the docs say true or
  // false, and the Python client takes those alone.
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL && value->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": must be true or false, got a string"));
  }
  // protobuf's parser reads a quoted real number with strtod, so "0x1F" was 31 (and YAML's
  // 0x1F, text, with it; probe CN); NaN and the infinities are its names for those values. (Its
  // whole numbers are decimal already.)
  const bool real = field.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE ||
                    field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
  if (real && value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    const bool special = text == "NaN" || text == "Infinity" || text == "-Infinity";
    if (!special && !IsDecimalNumber(text)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": must be a number, got \"", text, "\""));
    }
  }
  if (field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return absl::OkStatus();
  const Descriptor& type = *field.message_type();
  if (IsWellKnown(type)) return absl::OkStatus();
  if (value->is_null() && options.null_message_is_empty) *value = nlohmann::json::object();
  if (!value->is_object()) return absl::OkStatus();  // protobuf's parser says what is wrong
  return CheckMessage(type, options, path, value);
}

absl::Status CheckMessage(const Descriptor& type, const JsonShapeOptions& options,
                          const std::string& path, nlohmann::json* value) {
  std::set<int> given;  // field numbers
  for (auto& [key, member] : value->items()) {
    const FieldDescriptor* field = FieldNamed(type, key);
    if (field == nullptr) continue;
    const std::string field_path = path.empty() ? key : absl::StrCat(path, ".", key);
    // Under both its names (max_steps and maxSteps), one would silently win.
    if (!given.insert(field->number()).second) {
      return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "" : absl::StrCat(path, "."),
                                                     field->name(), ": given twice, as ",
                                                     field->name(), " and ", field->json_name()));
    }
    if (field->is_map()) {
      if (!member.is_object()) continue;  // null (not set), or protobuf's parser refuses it
      const FieldDescriptor& map_value = *field->message_type()->map_value();
      for (auto& [map_key, entry] : member.items()) {
        if (absl::Status s = CheckSingle(map_value, options,
                                         absl::StrCat(field_path, "[\"", map_key, "\"]"), &entry);
            !s.ok()) {
          return s;
        }
      }
    } else if (field->is_repeated()) {
      if (member.is_null()) continue;  // not set
      if (!member.is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field_path, ": a list is expected (", field_path, ": [...]), got ", KindOf(member)));
      }
      for (size_t i = 0; i < member.size(); ++i) {
        // protobuf's parser drops a null element: the list would be a value short.
        if (member[i].is_null()) {
          return absl::InvalidArgumentError(
              absl::StrCat(field_path, "[", i, "]: null in a list (give every element a value)"));
        }
        if (absl::Status s =
                CheckSingle(*field, options, absl::StrCat(field_path, "[", i, "]"), &member[i]);
            !s.ok()) {
          return s;
        }
      }
    } else if (absl::Status s = CheckSingle(*field, options, field_path, &member); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckJsonShape(const Descriptor& type, JsonShapeOptions options,
                            nlohmann::json* value) {
  if (!value->is_object()) return absl::OkStatus();  // protobuf's parser says what is wrong
  return CheckMessage(type, options, "", value);
}

}  // namespace polytrain
