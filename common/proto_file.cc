#include "common/proto_file.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/json_complaint.h"
#include "common/json_position.h"
#include "common/json_shape.h"
#include "common/validation.h"
#include "common/yaml_to_json.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "nlohmann/json.hpp"

namespace polytrain {
namespace {

// Keeps the first error the text parser reports, with its position (1-based, as editors show).
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    // The tokenizer's end of input has no text: "Expected identifier, got: " is an open brace.
    const bool at_end = absl::EndsWith(message, "got: ");
    error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message,
                          at_end ? "the end of the text (a '{' or '<' left open?)" : "");
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Well-formed UTF-8: no stray continuation bytes, overlong forms, surrogates or code points past
// U+10FFFF (what protobuf's binary parser accepts in a string field).
bool IsValidUtf8(absl::string_view s) {
  static constexpr uint32_t kMinCodePoint[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t more;
    uint32_t code_point;
    if ((lead & 0xE0) == 0xC0) {
      more = 1;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      more = 2;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      more = 3;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= more) return false;
    for (size_t k = 1; k <= more; ++k) {
      const unsigned char next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < kMinCodePoint[more] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += more + 1;
  }
  return true;
}

// The path (e.g. `name`, `labels["team"]`) of the first string field in `message` that
// is not valid UTF-8, or "" when there is none. Protobuf's binary parser refuses such a message
// (proto3 strings are UTF-8), but its text parser takes "\xff" escapes, so a spec file could
// otherwise parse and validate and then fail to reach the coordinator or come back from a store.
std::string InvalidUtf8Path(const google::protobuf::Message& message, const std::string& prefix) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!field->is_repeated()) {
        if (!IsValidUtf8(reflection->GetString(message, field))) return path;
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (!IsValidUtf8(reflection->GetRepeatedString(message, field, i))) {
          return absl::StrCat(path, "[", i, "]");
        }
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!field->is_repeated()) {
        const std::string found = InvalidUtf8Path(reflection->GetMessage(message, field), path);
        if (!found.empty()) return found;
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        const google::protobuf::Message& element =
            reflection->GetRepeatedMessage(message, field, i);
        if (field->is_map()) {
          // An entry of a map<string, string> (labels) is named by its key, as validation does.
          const FieldDescriptor* key = field->message_type()->map_key();
          const FieldDescriptor* value = field->message_type()->map_value();
          const google::protobuf::Reflection* entry = element.GetReflection();
          if (key->type() == FieldDescriptor::TYPE_STRING &&
              value->type() == FieldDescriptor::TYPE_STRING) {
            const std::string k = entry->GetString(element, key);
            if (!IsValidUtf8(k) || !IsValidUtf8(entry->GetString(element, value))) {
              return absl::StrCat(path, "[\"", EscapedText(k, '"'), "\"]");
            }
            continue;
          }
        }
        const std::string found = InvalidUtf8Path(element, absl::StrCat(path, "[", i, "]"));
        if (!found.empty()) return found;
      }
    }
  }
  return "";
}

// The first key a JSON object has twice ("" if none, or if the text is no JSON). protobuf's own
// parser keeps the last silently. The parsed JSON goes to `parsed` (discarded when the text is no
// JSON, and then `syntax_error` says why: "LINE:COLUMN: why").
std::string DuplicateJsonKey(absl::string_view content, nlohmann::json* parsed,
                             std::string* syntax_error) {
  std::vector<std::set<std::string>> open;  // the keys of each object being read
  std::string duplicate;
  try {
    *parsed = nlohmann::json::parse(
        content.begin(), content.end(),
        [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (event == nlohmann::json::parse_event_t::object_start) open.emplace_back();
          if (event == nlohmann::json::parse_event_t::object_end && !open.empty()) {
            open.pop_back();
          }
          if (event == nlohmann::json::parse_event_t::key && !open.empty() &&
              !open.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
            duplicate = parsed.get<std::string>();
          }
          return true;
        });
  } catch (const nlohmann::json::parse_error& e) {
    *parsed = nlohmann::json(nlohmann::json::value_t::discarded);
    // e.byte is 1-based, at the character that could not be read; the reason follows the
    // library's own "parse error at line L, column C: " and holds the text's bytes, printable.
    absl::string_view why = e.what();
    if (const size_t at = why.find(": syntax error"); at != absl::string_view::npos) {
      why.remove_prefix(at + 2);
    }
    std::string printable;
    for (const char c : why) {
      const auto byte = static_cast<unsigned char>(c);
      printable +=
          byte < 0x20 || byte >= 0x7f ? absl::StrFormat("\\x%02x", byte) : std::string(1, c);
    }
    *syntax_error =
        absl::StrCat(TextPosition(content, e.byte == 0 ? 0 : e.byte - 1), ": ", printable);
    return "";
  } catch (const nlohmann::json::exception&) {
    *parsed = nlohmann::json(nlohmann::json::value_t::discarded);
    return "";
  }
  return duplicate;
}

// The last member a field path names: "a.b[0]" names b.
std::string PathKey(absl::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot != absl::string_view::npos) path.remove_prefix(dot + 1);
  return std::string(path.substr(0, path.find('[')));
}

// The member an error about a JSON text is about: protobuf's "(a.b) c: Cannot find field."
// names c and "(a.b[0]): why" names b; ours, "a.b[0]: why", names b. "" when it names none.
std::string ErrorKey(absl::string_view why) {
  if (!absl::ConsumePrefix(&why, "(")) {
    const size_t colon = why.find(": ");
    return colon == absl::string_view::npos ? "" : PathKey(why.substr(0, colon));
  }
  const size_t close = why.find(')');
  if (close == absl::string_view::npos) return "";
  absl::string_view rest = why.substr(close + 1);
  if (absl::ConsumePrefix(&rest, " ")) return std::string(rest.substr(0, rest.find(':')));
  return PathKey(why.substr(0, close));
}

// lowerCamelCase of a snake_case field name, as JSON may spell it.
std::string LowerCamel(absl::string_view name) {
  std::string camel;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size()) {
      camel += absl::ascii_toupper(name[++i]);
    } else {
      camel += name[i];
    }
  }
  return camel;
}

// "SOURCE:LINE: why", with the line of the member `why` is about where the JSON text has lines
// and names that key once; "SOURCE: why" otherwise.
absl::Status JsonError(absl::string_view source, absl::string_view json, absl::string_view why) {
  const std::string key = ErrorKey(why);
  const bool lines = json.find('\n') < json.size() - 1;  // more than one line
  const int line = key.empty() || !lines ? 0 : LineOfJsonKey(json, {key, LowerCamel(key)});
  return absl::InvalidArgumentError(
      absl::StrCat(source, line > 0 ? absl::StrCat(":", line) : "", ": ", why));
}

}  // namespace

absl::StatusOr<ProtoFormat> ProtoFormatFromPath(absl::string_view path) {
  for (absl::string_view ext : {".txtpb", ".textproto", ".pbtxt", ".txt"}) {
    if (absl::EndsWith(path, ext)) return ProtoFormat::kText;
  }
  if (absl::EndsWith(path, ".json")) return ProtoFormat::kJson;
  if (absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml")) return ProtoFormat::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat(path,
                   ": unknown file extension; use .txtpb (protobuf text format), .json or "
                   ".yaml"));
}

absl::Status ParseProto(absl::string_view content, ProtoFormat format, absl::string_view source,
                        google::protobuf::Message* message) {
  message->Clear();
  if (format == ProtoFormat::kText) {
    google::protobuf::TextFormat::Parser parser;
    FirstErrorCollector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(std::string(content), message)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", errors.error()));
    }
    const std::string bad_string = InvalidUtf8Path(*message, "");
    if (!bad_string.empty()) {
      message->Clear();
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", bad_string, ": not valid UTF-8 (string fields must be)"));
    }
    return absl::OkStatus();
  }
  std::string json;
  if (format == ProtoFormat::kYaml) {
    absl::StatusOr<nlohmann::json> converted = YamlToJson(content, source);
    if (!converted.ok()) return converted.status();
    JsonShapeOptions shape;
    shape.null_message_is_empty = true;
    if (absl::Status s = CheckJsonShape(*message->GetDescriptor(), shape, &*converted); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
    }
    json = converted->dump();
    content = json;
  } else {
    nlohmann::json parsed;
    std::string syntax_error;
    if (const std::string key = DuplicateJsonKey(content, &parsed, &syntax_error); !key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": duplicate key '", key, "' (give each once)"));
    }
    if (!syntax_error.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", syntax_error));
    }
    // Checked only: protobuf's parser reads the text as written.
    if (!parsed.is_discarded()) {
      if (absl::Status s = CheckJsonShape(*message->GetDescriptor(), {}, &parsed); !s.ok()) {
        return JsonError(source, content, s.message());
      }
    }
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(content.data(), content.size()), message, options);
  if (!status.ok()) {
    message->Clear();
    // protobuf names the field path first, and an empty one (the message itself, e.g. two
    // members of one oneof) as ": ...".
    absl::string_view why(status.message().data(), status.message().size());
    absl::ConsumePrefix(&why, ": ");
    // One line: a syntax error goes on with the text and a caret under it.
    const std::string readable = ReadableJsonComplaint(why.substr(0, why.find('\n')));
    why = readable;
    // A YAML text was converted to one line of JSON: its own lines are not known here.
    if (format == ProtoFormat::kJson) return JsonError(source, content, why);
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", why));
  }
  return absl::OkStatus();
}

absl::Status ReadProtoFile(const std::string& path, google::protobuf::Message* message) {
  absl::StatusOr<ProtoFormat> format = ProtoFormatFromPath(path);
  if (!format.ok()) return format.status();
  // A FIFO or a device would block or never end: only regular files (or links to them) are read.
  std::error_code error_code;
  const std::filesystem::file_status status = std::filesystem::status(path, error_code);
  if (!error_code && std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  if (!error_code && !std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", std::strerror(error)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return ParseProto(content.str(), *format, path, message);
}

namespace {

bool IsFloating(const google::protobuf::FieldDescriptor* field) {
  return field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE ||
         field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_FLOAT;
}

// protobuf's JSON writes a double that is not finite as a string ("NaN"): one field would then
// hold a number in one row and a string in the next. Those become null, in every message field,
// list and map of `object` (a JSON object of `descriptor`).
void NullNonFinite(const google::protobuf::Descriptor* descriptor, nlohmann::ordered_json& object) {
  if (!object.is_object()) return;  // a well-known type written as a string, say
  for (auto& [key, value] : object.items()) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr) continue;
    const google::protobuf::FieldDescriptor* element =
        field->is_map() ? field->message_type()->map_value() : field;
    auto fix = [&](nlohmann::ordered_json& item) {
      if (IsFloating(element) && item.is_string()) {
        item = nullptr;  // finite doubles are numbers: a string is NaN or an infinity
      } else if (element->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        NullNonFinite(element->message_type(), item);
      }
    };
    if (field->is_map() && value.is_object()) {
      for (auto& [entry_key, entry] : value.items()) fix(entry);
    } else if (field->is_repeated() && value.is_array()) {
      for (auto& item : value) fix(item);
    } else {
      fix(value);
    }
  }
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message, bool include_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = include_defaults;
  // MessageToJsonString prints maps in their hash order, which differs from call to call: the
  // same answer printed twice must read the same (diffs, caches), so map keys come sorted, as
  // deterministic serialization orders them.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    (void)message.SerializeToCodedStream(&coded);
  }
  const google::protobuf::DescriptorPool* pool = message.GetDescriptor()->file()->pool();
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool("type.googleapis.com", pool));
  std::string out;
  (void)google::protobuf::util::BinaryToJsonString(
      resolver.get(), "type.googleapis.com/" + message.GetDescriptor()->full_name(), binary, &out,
      options);
  if (out.find("NaN") == std::string::npos && out.find("Infinity") == std::string::npos) {
    return out;
  }
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(out, nullptr, false);
  if (json.is_discarded()) return out;
  NullNonFinite(message.GetDescriptor(), json);
  return json.dump();
}

}  // namespace polytrain
