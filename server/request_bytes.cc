#include "server/request_bytes.h"

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8_text.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"
#include "spdlog/spdlog.h"

namespace polytrain {
namespace {

// protobuf reports why a parse failed (e.g. "String field 'polytrain.v1.JobSpec.name' contains
// invalid UTF-8 data ...") only to its log. While a request is parsed on this thread, that line
// is kept for the error; every other protobuf log line goes to our log.
thread_local std::string* parse_complaint = nullptr;

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  if (parse_complaint != nullptr) {
    if (parse_complaint->empty()) *parse_complaint = message;
    return;
  }
  const spdlog::level::level_enum ours =
      level >= google::protobuf::LOGLEVEL_ERROR     ? spdlog::level::err
      : level == google::protobuf::LOGLEVEL_WARNING ? spdlog::level::warn
                                                    : spdlog::level::info;
  spdlog::log(ours, "protobuf {}:{}: {}", filename, line, message);
}

std::string WireTypeName(google::protobuf::UnknownField::Type type) {
  switch (type) {
    case google::protobuf::UnknownField::TYPE_VARINT:
      return "a varint";
    case google::protobuf::UnknownField::TYPE_FIXED32:
      return "a 32-bit value";
    case google::protobuf::UnknownField::TYPE_FIXED64:
      return "a 64-bit value";
    case google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED:
      return "length-delimited bytes";
    case google::protobuf::UnknownField::TYPE_GROUP:
      return "a group";
  }
  return "another wire type";
}

// A field of this message sent with another wire type than its own is kept by protobuf as an
// unknown field: the field reads as unset, so without this check a sent `spec` would be answered
// "spec: must be set". So is a field number the message does not have: refused with kRefuse,
// unless the message reserves it (a field removed since: an older client's, ignored as before).
// Walks every message set inside `message`.
absl::Status CheckUnknownFields(const google::protobuf::Message& message, const std::string& path,
                                UnknownFields unknown_fields) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(message);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field =
        message.GetDescriptor()->FindFieldByNumber(unknown.field(i).number());
    if (field == nullptr &&
        (unknown_fields == UnknownFields::kDrop ||
         message.GetDescriptor()->IsReservedNumber(unknown.field(i).number()))) {
      continue;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path.empty() ? "request" : path, ": has field ", unknown.field(i).number(), " (",
          WireTypeName(unknown.field(i).type()), "), which this coordinator's ",
          message.GetDescriptor()->full_name(),
          " does not have: from a newer client? Its value would be ignored, so the request is "
          "refused: leave it out, or upgrade the coordinator"));
    }
    const std::string kind = field->message_type() != nullptr
                                 ? absl::StrCat("a ", field->message_type()->full_name())
                                 : std::string(field->type_name());
    return absl::InvalidArgumentError(absl::StrCat(
        path, path.empty() ? "" : ".", field->name(), ": sent as ",
        WireTypeName(unknown.field(i).type()), ", but it is ",
        field->is_repeated() ? "repeated " : "", kind, " (field ", field->number(), ")"));
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string inner = absl::StrCat(path, path.empty() ? "" : ".", field->name());
    if (!field->is_repeated()) {
      POLYTRAIN_RETURN_IF_ERROR(
          CheckUnknownFields(reflection->GetMessage(message, field), inner, unknown_fields));
      continue;
    }
    for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
      POLYTRAIN_RETURN_IF_ERROR(
          CheckUnknownFields(reflection->GetRepeatedMessage(message, field, j),
                             absl::StrCat(inner, "[", j, "]"), unknown_fields));
    }
  }
  return absl::OkStatus();
}

// Deeper than any message of ours nests; protobuf's own parser stops at 100 as well.
constexpr int kMaxNesting = 100;

// The request path of the first string field in `data` (a serialized `type`) whose bytes are not
// UTF-8, e.g. "spec.tags[2]" or "spec.labels[\"team\"]"; empty when there is none or the bytes
// stop parsing before one. protobuf's own complaint names the field's declaration only
// ('polytrain.v1.JobSpec.LabelsEntry.value'), not where in the request it was.
std::string FindTextThatIsNotUtf8(absl::string_view data, const google::protobuf::Descriptor& type,
                                  const std::string& path, int nesting) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::internal::WireFormatLite;
  if (nesting > kMaxNesting) return "";
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(data.data()),
                                               static_cast<int>(data.size()));
  std::vector<int> occurrences(static_cast<size_t>(type.field_count()), 0);
  // Inside a map's entry: its key once read (a serializer writes it first), to name the value.
  std::string entry_path = absl::StrCat(path, " (a value)");
  while (const uint32_t tag = input.ReadTag()) {
    const FieldDescriptor* field = type.FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    if (field == nullptr ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        (field->type() != FieldDescriptor::TYPE_STRING &&
         field->type() != FieldDescriptor::TYPE_MESSAGE)) {
      if (!WireFormatLite::SkipField(&input, tag)) return "";
      continue;
    }
    uint32_t length = 0;
    std::string bytes;
    if (!input.ReadVarint32(&length) || !input.ReadString(&bytes, static_cast<int>(length))) {
      return "";
    }
    if (type.options().map_entry()) {
      // Inside a map's entry: the map's own path, and which half of the entry it was.
      if (field->type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(bytes)) {
        return field->number() == 1 ? absl::StrCat(path, " (a key)") : entry_path;
      }
      if (field->number() == 1) {  // a key of text that is UTF-8: spec.labels["team"]
        entry_path = MapKeyPath(path, bytes);
        continue;
      }
      if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
        std::string found =
            FindTextThatIsNotUtf8(bytes, *field->message_type(), entry_path, nesting + 1);
        if (!found.empty()) return found;
      }
      continue;
    }
    std::string name = absl::StrCat(path, path.empty() ? "" : ".", field->name());
    int& occurrence = occurrences[static_cast<size_t>(field->index())];
    if (field->is_repeated() && !field->is_map()) absl::StrAppend(&name, "[", occurrence, "]");
    ++occurrence;
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(bytes)) return name;
      continue;
    }
    std::string found = FindTextThatIsNotUtf8(bytes, *field->message_type(), name, nesting + 1);
    if (!found.empty()) return found;
  }
  return "";
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request,
                          UnknownFields unknown) {
  static std::once_flag installed;
  std::call_once(installed, [] { google::protobuf::SetLogHandler(&ProtobufLogHandler); });
  std::vector<grpc::Slice> slices;
  std::string data;
  if (bytes.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      data.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  std::string complaint;
  parse_complaint = &complaint;
  const bool parsed = request->ParseFromString(data);
  parse_complaint = nullptr;
  if (parsed) {
    POLYTRAIN_RETURN_IF_ERROR(CheckUnknownFields(*request, "", unknown));
    // A worker's fields this coordinator does not know are dropped, not kept: they would be
    // stored and sent back (a 16 MiB one would make a job unreadable).
    request->DiscardUnknownFields();
    return absl::OkStatus();
  }
  if (const std::string field =
          FindTextThatIsNotUtf8(data, *request->GetDescriptor(), "", /*nesting=*/0);
      !field.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": is not valid UTF-8 (every text field must be)"));
  }
  if (complaint.empty()) complaint = "the bytes are not this message (truncated or malformed)";
  // protobuf's advice on using 'bytes' fields is meant for the API's authors, not its callers.
  const size_t advice = complaint.find(" Use the 'bytes' type");
  if (advice != std::string::npos) complaint.resize(advice);
  return absl::InvalidArgumentError(absl::StrCat(
      "request: not a valid ", request->GetDescriptor()->full_name(), ": ", complaint));
}

absl::Status SerializeResponse(const google::protobuf::Message& response, grpc::ByteBuffer* bytes) {
  std::string data;
  if (!response.SerializeToString(&data)) {
    return absl::InternalError(
        absl::StrCat("cannot serialize a ", response.GetDescriptor()->full_name()));
  }
  grpc::Slice slice(data);
  *bytes = grpc::ByteBuffer(&slice, 1);
  return absl::OkStatus();
}

}  // namespace polytrain
