#include "common/yaml_to_json.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/decimal_number.h"
#include "common/utf8_text.h"
#include "yaml-cpp/yaml.h"

namespace polytrain {
namespace {

class Converter {
 public:
  nlohmann::json Convert(const YAML::Node& node, int depth) {
    if (depth > kMaxYamlDepth) {
      throw YAML::ParserException(node.Mark(),
                                  absl::StrCat("nested deeper than ", kMaxYamlDepth,
                                               " levels (counted from the top, aliases expanded)"));
    }
    if (++values_ > kMaxYamlValues) {
      throw YAML::ParserException(
          node.Mark(),
          absl::StrCat("more than ", kMaxYamlValues, " values once its aliases are expanded"));
    }
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& item : node) {
          const std::string key = item.first.as<std::string>();
          CheckUtf8(item.first, key);
          if (object.contains(key)) {  // as text format refuses a field given twice
            throw YAML::ParserException(item.first.Mark(),
                                        absl::StrCat("duplicate key '", key, "' (give each once)"));
          }
          object[key] = Convert(item.second, depth + 1);
        }
        return object;
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        // A null in it is refused by CheckJsonShape, naming its field.
        for (const auto& item : node) array.push_back(Convert(item, depth + 1));
        return array;
      }
      case YAML::NodeType::Scalar: {
        const std::string text = node.Scalar();
        CheckUtf8(node, text);
        if (node.Tag() == "!") return text;  // quoted in the YAML: a string
        if (text == "true") return true;
        if (text == "false") return false;
        double number = 0;
        if (IsDecimalNumber(absl::StripAsciiWhitespace(text)) && absl::SimpleAtod(text, &number)) {
          // JSON has no infinity: it would be written as null, and the field left unset.
          if (!std::isfinite(number)) {
            throw YAML::ParserException(node.Mark(), "a number out of a double's range");
          }
          int64_t integer = 0;
          if (absl::SimpleAtoi(text, &integer)) return integer;
          uint64_t large = 0;  // a seed up to 2^64 - 1, not rounded through a double
          if (absl::SimpleAtoi(text, &large)) return large;
          return number;
        }
        return text;
      }
      default:
        return nullptr;
    }
  }

 private:
  // JSON (and protobuf's strings) hold UTF-8 only.
  static void CheckUtf8(const YAML::Node& node, const std::string& text) {
    if (!IsValidUtf8(text)) {
      throw YAML::ParserException(node.Mark(), "not valid UTF-8 (a spec file is UTF-8 text)");
    }
  }

  int64_t values_ = 0;
};

}  // namespace

absl::StatusOr<nlohmann::json> YamlToJson(absl::string_view content, absl::string_view source) {
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(content));
    for (size_t i = 1; i < documents.size(); ++i) {
      if (documents[i].IsNull()) continue;  // an empty one, as after a closing ---
      throw YAML::ParserException(
          documents[i].Mark(),
          "a second YAML document (after ---): a spec file holds one, and the rest would be "
          "ignored");
    }
    return Converter().Convert(documents.empty() ? YAML::Node() : documents[0], 0);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

}  // namespace polytrain
