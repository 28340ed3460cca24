// `--set FIELD=VALUE`: one field of a spec replaced from the command line, as Determined's
// `--config` and Hydra's overrides do, without a copy of the file per change. FIELD is a dotted
// path of field names (`optimizer.learning_rate`, `model.mlp.hidden`); VALUE is protobuf text
// format for that field (`0.01`, `[256, 128]`, `{ momentum: 0.9 }`, `DEVICE_CPU`; a string
// field's value may be written bare).
#ifndef POLYTRAIN_CLIENT_SPEC_SETTING_H_
#define POLYTRAIN_CLIENT_SPEC_SETTING_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace polytrain {

// Replaces the field `setting` names in `message` (a repeated field's whole list, a message
// field's whole message; the other members of its oneof are cleared). INVALID_ARGUMENT naming
// `flag` and the setting when the path names no field or the value does not parse; `message` is
// then unchanged. A field given twice is refused (the second silently won).
absl::Status ApplySettings(const std::string& flag, const std::vector<std::string>& settings,
                           google::protobuf::Message* message);

}  // namespace polytrain

#endif  // POLYTRAIN_CLIENT_SPEC_SETTING_H_
