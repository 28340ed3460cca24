#include "common/proto_file.h"

#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace polytrain {
namespace {

// Keeps the first error the text parser reports, with its position (1-based, as editors show).
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

absl::StatusOr<ProtoFormat> ProtoFormatFromPath(absl::string_view path) {
  for (absl::string_view ext : {".txtpb", ".textproto", ".pbtxt", ".txt"}) {
    if (absl::EndsWith(path, ext)) return ProtoFormat::kText;
  }
  if (absl::EndsWith(path, ".json")) return ProtoFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": unknown file extension; use .txtpb (protobuf text format) or .json"));
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
    return absl::OkStatus();
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(content.data(), content.size()), message, options);
  if (!status.ok()) {
    message->Clear();
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status ReadProtoFile(const std::string& path, google::protobuf::Message* message) {
  absl::StatusOr<ProtoFormat> format = ProtoFormatFromPath(path);
  if (!format.ok()) return format.status();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream content;
  content << in.rdbuf();
  return ParseProto(content.str(), *format, path, message);
}

std::string ToJson(const google::protobuf::Message& message, bool include_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = include_defaults;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace polytrain
