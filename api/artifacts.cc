#include "api/artifacts.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/limits.h"
#include "api/worker_messages.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace polytrain {

absl::Status ValidateArtifactId(absl::string_view field, absl::string_view id) {
  constexpr size_t kHexDigits = 64;
  bool valid = absl::StartsWith(id, kArtifactIdPrefix) &&
               id.size() == sizeof(kArtifactIdPrefix) - 1 + kHexDigits;
  for (size_t i = sizeof(kArtifactIdPrefix) - 1; valid && i < id.size(); ++i) {
    valid = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
  }
  if (valid) return absl::OkStatus();
  return InvalidField(
      field, absl::StrCat("expected sha256:<64 lowercase hex digits>, got ", Quote(id, 80)));
}

std::string ArtifactIdOfHex(absl::string_view hex) { return absl::StrCat(kArtifactIdPrefix, hex); }

std::string ArtifactHex(absl::string_view id) {
  return std::string(id.substr(sizeof(kArtifactIdPrefix) - 1));
}

std::string ArtifactNameFor(absl::string_view file_name) {
  std::string name;
  for (char c : file_name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    if (name.empty() && c == '.') continue;
    name.push_back(plain ? c : '_');
  }
  if (name.size() > static_cast<size_t>(kMaxArtifactNameLength)) {
    name.resize(kMaxArtifactNameLength);
  }
  return name.empty() ? "artifact" : name;
}

absl::Status ValidateUploadArtifactRequest(const polytrain::v1::UploadArtifactRequest& chunk,
                                           bool first) {
  if (first) {
    POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactName("name", chunk.name()));
    POLYTRAIN_RETURN_IF_ERROR(ValidateArtifactId("sha256", chunk.sha256()));
    if (chunk.has_size_bytes()) {
      POLYTRAIN_RETURN_IF_ERROR(
          CheckIntRange("size_bytes", chunk.size_bytes(), 0, kMaxDeclaredArtifactBytes));
    }
  } else if (!chunk.name().empty() || !chunk.sha256().empty() || chunk.has_size_bytes()) {
    return InvalidField(!chunk.name().empty()     ? "name"
                        : !chunk.sha256().empty() ? "sha256"
                                                  : "size_bytes",
                        "set on the first chunk only");
  }
  if (chunk.data().size() > kArtifactChunkBytes) {
    return InvalidField(
        "data", absl::StrCat("chunks are at most 1 MiB, got ", chunk.data().size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateListArtifactsRequest(const polytrain::v1::ListArtifactsRequest& request) {
  POLYTRAIN_RETURN_IF_ERROR(CheckIntRange("page_size", request.page_size(), 0, kMaxPageSize));
  return CheckLength("page_token", request.page_token(), 0, kMaxPageTokenLength);
}

absl::Status ValidateDeleteArtifactRequest(const polytrain::v1::DeleteArtifactRequest& request) {
  return ValidateArtifactId("id", request.id());
}

std::vector<NamedArtifact> ArtifactsNamedBy(const polytrain::v1::JobSpec& spec,
                                            absl::string_view path) {
  std::vector<NamedArtifact> named;
  if (spec.model().has_torchscript() && spec.model().torchscript().has_artifact()) {
    named.push_back({FieldPath(path, "model.torchscript.artifact"),
                     spec.model().torchscript().artifact(), TorchFile::kTorchScript});
  }
  if (spec.dataset().has_tensors() && spec.dataset().tensors().has_artifact()) {
    named.push_back({FieldPath(path, "dataset.tensors.artifact"),
                     spec.dataset().tensors().artifact(), TorchFile::kTorchSave});
  }
  return named;
}

}  // namespace polytrain
