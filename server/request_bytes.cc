#include "server/request_bytes.h"

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
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

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* request) {
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
    // Fields this coordinator does not know are dropped, not kept: they would be stored with the
    // job and sent back in every answer about it (a 16 MiB one would make the job unreadable).
    request->DiscardUnknownFields();
    return absl::OkStatus();
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
