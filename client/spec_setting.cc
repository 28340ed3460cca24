#include "client/spec_setting.h"

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace polytrain {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Collects the text format parser's complaint instead of printing it to stderr.
class ParseComplaint : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int /*line*/, google::protobuf::io::ColumnNumber /*column*/,
                const std::string& message) override {
    if (text_.empty()) text_ = message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The field names of `message`'s type, for an error that names an unknown one.
std::string FieldNames(const google::protobuf::Descriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.field_count(); ++i) names.push_back(type.field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status ApplySetting(const std::string& flag, const std::string& setting, Message* message) {
  const std::vector<std::string> parts = absl::StrSplit(setting, absl::MaxSplits('=', 1));
  if (parts.size() != 2 || parts[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected FIELD=VALUE, got ", Quote(setting)));
  }
  const std::string& path = parts[0];
  const std::vector<std::string> names = absl::StrSplit(path, '.');
  Message* parent = message;
  for (size_t i = 0; i < names.size(); ++i) {
    const FieldDescriptor* field = parent->GetDescriptor()->FindFieldByName(names[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", Quote(setting), ": ", parent->GetDescriptor()->name(), " has no field ",
          Quote(names[i]), " (its fields: ", FieldNames(*parent->GetDescriptor()), ")"));
    }
    if (i + 1 == names.size()) break;
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", Quote(setting), ": ", absl::StrJoin(names.begin(), names.begin() + i + 1, "."),
          " is not a message field, so it has no field ", Quote(names[i + 1])));
    }
    parent = parent->GetReflection()->MutableMessage(parent, field);
  }
  const FieldDescriptor* field = parent->GetDescriptor()->FindFieldByName(names.back());
  std::string value = parts[1];
  // A string written bare is quoted for the parser (a quoted one is taken as written).
  if (field->type() == FieldDescriptor::TYPE_STRING && !field->is_repeated() &&
      (value.empty() || (value.front() != '"' && value.front() != '\''))) {
    value = absl::StrCat("\"", absl::CEscape(value), "\"");
  }
  // Parsed alone into an empty message of the parent's type: a value that went on to set other
  // fields ("1 epochs: 3") is refused, not applied.
  std::unique_ptr<Message> parsed(parent->New());
  ParseComplaint complaint;
  google::protobuf::TextFormat::ParseInfoTree named;  // every field the text names, zero or not
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&complaint);
  parser.WriteLocationsTo(&named);
  const bool ok = parser.ParseFromString(absl::StrCat(field->name(), ": ", value), parsed.get());
  bool others = false;
  for (int i = 0; i < parent->GetDescriptor()->field_count(); ++i) {
    const FieldDescriptor* other = parent->GetDescriptor()->field(i);
    others |= other != field && named.GetLocation(other, other->is_repeated() ? 0 : -1).line >= 0;
  }
  if (!ok || others) {
    // "lr=0.01,0.1" is a sweep's wish, which --set cannot be (probe DH).
    const bool several = !field->is_repeated() && absl::StrContains(value, ',');
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", Quote(setting), ": ", path, ": not a value of this field",
        ok ? " (it goes on past the value)" : absl::StrCat(" (", complaint.text(), ")"),
        several ? "; it takes one value: to train with several, submit (or sweep) once per "
                  "value and compare the jobs or sweeps together (polyctl compare ID...)"
                : ""));
  }
  parent->GetReflection()->ClearField(parent, field);
  parent->MergeFrom(*parsed);  // a oneof member clears the one that was set
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplySettings(const std::string& flag, const std::vector<std::string>& settings,
                           Message* message) {
  std::unique_ptr<Message> result(message->New());
  result->CopyFrom(*message);
  std::set<std::string> given;
  for (const std::string& setting : settings) {
    const std::string path = setting.substr(0, setting.find('='));
    if (!given.insert(path).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", Quote(path), " given twice (the second would silently win)"));
    }
    // A message and a field inside it: one would silently undo the other.
    for (const std::string& other : given) {
      const bool inside =
          absl::StartsWith(path, other + ".") || absl::StartsWith(other, path + ".");
      if (inside) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag, ": ", Quote(std::min(path, other)), " and ", Quote(std::max(path, other)),
            " both given (the message would replace the field, or the field part of it)"));
      }
    }
    if (absl::Status s = ApplySetting(flag, setting, result.get()); !s.ok()) return s;
  }
  message->CopyFrom(*result);
  return absl::OkStatus();
}

}  // namespace polytrain
