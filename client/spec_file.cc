#include "client/spec_file.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/proto_file.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace polytrain {
namespace {

// YAML scalars carry no types: true/false become booleans, numbers numbers, the rest strings
// (protobuf's JSON parser then checks them against the message's field types).
nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node) object[item.first.as<std::string>()] = ToJson(item.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(ToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted in the YAML: a string
      if (text == "true") return true;
      if (text == "false") return false;
      double number = 0;
      if (absl::SimpleAtod(text, &number) &&
          text.find_first_of("0123456789") != std::string::npos) {
        int64_t integer = 0;
        if (absl::SimpleAtoi(text, &integer)) return integer;
        return number;
      }
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace

absl::Status ReadSpecFile(const std::string& path, google::protobuf::Message* message) {
  if (!absl::EndsWith(path, ".yaml") && !absl::EndsWith(path, ".yml")) {
    return ReadProtoFile(path, message);
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  return ParseProto(ToJson(root).dump(), ProtoFormat::kJson, path, message);
}

}  // namespace polytrain
