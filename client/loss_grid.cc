#include "client/loss_grid.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/proto_file.h"
#include "common/validation.h"
#include "loss/spec/loss_spec.h"

namespace polytrain {

std::string LossFormNames() {
  std::vector<std::string> names;
  const google::protobuf::OneofDescriptor* forms =
      polytrain::v1::LossSpec::descriptor()->FindOneofByName("form");
  for (int i = 0; forms != nullptr && i < forms->field_count(); ++i) {
    names.push_back(forms->field(i)->name());
  }
  return absl::StrJoin(names, ", ");
}

polytrain::v1::LossSpec WithOptionsOf(const polytrain::v1::LossSpec& options_of,
                                      const polytrain::v1::LossSpec& form) {
  polytrain::v1::LossSpec loss = options_of;
  const google::protobuf::OneofDescriptor* forms =
      polytrain::v1::LossSpec::descriptor()->FindOneofByName("form");
  const google::protobuf::Reflection* reflection = loss.GetReflection();
  reflection->ClearOneof(&loss, forms);
  const google::protobuf::FieldDescriptor* chosen =
      reflection->GetOneofFieldDescriptor(form, forms);
  if (chosen != nullptr) {  // every form is a message
    reflection->MutableMessage(&loss, chosen)->CopyFrom(reflection->GetMessage(form, chosen));
  }
  return loss;
}

absl::StatusOr<std::vector<polytrain::v1::LossSpec>> ExpandLossGrid(
    const std::string& grid, const polytrain::v1::LossSpec& options_of) {
  auto invalid = [&](absl::string_view why) {
    // Quoted short: a grid of thousands of values is not echoed whole.
    return absl::InvalidArgumentError(absl::StrCat("--loss-grid ", Quote(grid), ": ", why));
  };
  std::string preset;
  // Each dimension: the field and its values as text-format literals.
  std::vector<std::pair<std::string, std::vector<std::string>>> dims;
  for (absl::string_view dim : absl::StrSplit(grid, ';', absl::SkipWhitespace())) {
    const std::vector<std::string> sides = absl::StrSplit(dim, absl::MaxSplits('=', 1));
    const std::vector<std::string> path = absl::StrSplit(sides[0], '.');
    const std::string dim_preset(absl::StripAsciiWhitespace(path[0]));
    // What was meant, when it is no form's field (probe DH: "label_smoothing=0,0.1" and
    // "optimizer.learning_rate=..." got the format's or protobuf's words only).
    const google::protobuf::FieldDescriptor* named =
        polytrain::v1::LossSpec::descriptor()->FindFieldByName(dim_preset);
    if (sides.size() == 2 && named != nullptr && named->containing_oneof() == nullptr) {
      return invalid(absl::StrCat("'", dim_preset,
                                  "' is an option of every loss, not a form's field: give one "
                                  "--loss per value (e.g. --loss 'cross_entropy {} ",
                                  dim_preset, ": ...')"));
    }
    if (sides.size() == 2 && path.size() == 2 && !path[0].empty() && named == nullptr) {
      return invalid(
          absl::StrCat("'", dim_preset, "' is not a loss form (one of: ", LossFormNames(),
                       "). A sweep varies the loss only: for other fields, sweep once per value "
                       "(--set FIELD=V) and compare the sweeps together (polyctl compare ID...)"));
    }
    if (sides.size() != 2 || path.size() != 2 || path[0].empty() || path[1].empty()) {
      return invalid("each dimension reads PRESET.FIELD=V1,V2,... (e.g. poly1.epsilon=0,1,2)");
    }
    if (!preset.empty() && dim_preset != preset) {
      return invalid("all dimensions must vary the same preset");
    }
    preset = dim_preset;
    std::vector<std::string> values;
    for (absl::string_view v : absl::StrSplit(sides[1], ',')) {
      v = absl::StripAsciiWhitespace(v);
      // "1,,2" was read as "1,2": a value left out by mistake went unnoticed.
      if (v.empty()) return invalid("an empty value between commas");
      values.emplace_back(v);
    }
    if (values.empty()) return invalid("a dimension has no values");
    dims.emplace_back(std::string(absl::StripAsciiWhitespace(path[1])), std::move(values));
  }
  if (dims.empty()) return invalid("empty");
  size_t total = 1;
  for (const auto& dim : dims) total *= dim.second.size();
  if (total > kMaxGridLosses) {
    return invalid(absl::StrCat("at most ", kMaxGridLosses, " losses, got ", total));
  }
  const bool has_options = WithOptionsOf(options_of, {}).ByteSizeLong() > 0;
  std::vector<polytrain::v1::LossSpec> losses;
  for (size_t index = 0; index < total; ++index) {
    std::string text = preset + " {";
    size_t rest = index;
    std::vector<size_t> pick(dims.size());  // the last dimension varies fastest
    for (size_t d = dims.size(); d-- > 0;) {
      pick[d] = rest % dims[d].second.size();
      rest /= dims[d].second.size();
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      absl::StrAppend(&text, " ", dims[d].first, ": ", dims[d].second[pick[d]]);
    }
    text += " }";
    polytrain::v1::LossSpec form;
    if (absl::Status s = ParseProto(text, ProtoFormat::kText, "--loss-grid", &form); !s.ok()) {
      return invalid(absl::StrCat("'", text, "' does not parse: ", s.message()));
    }
    polytrain::v1::LossSpec loss = WithOptionsOf(options_of, form);
    if (absl::Status s = loss::ValidateLossSpec(loss); !s.ok()) {
      return invalid(absl::StrCat(
          "'", text, "'", has_options ? " with the base's loss options" : "", ": ", s.message()));
    }
    losses.push_back(std::move(loss));
  }
  return losses;
}

}  // namespace polytrain
