// Users' artifacts (a TorchScript model, a tensor dataset) as requests name them: the id
// "sha256:<hex>", the UploadArtifact stream's chunks, the list and delete requests, and which
// artifacts a JobSpec names. Torch-free; the coordinator, the worker and polyctl share these.
#ifndef POLYTRAIN_API_ARTIFACTS_H_
#define POLYTRAIN_API_ARTIFACTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/torch_file_check.h"
#include "polytrain/v1/coordinator.pb.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

// "sha256:" and 64 lowercase hex digits, else INVALID_ARGUMENT naming `field`.
absl::Status ValidateArtifactId(absl::string_view field, absl::string_view id);
// The id of a file whose SHA-256 is `hex`, and back (the id must be valid).
std::string ArtifactIdOfHex(absl::string_view hex);
std::string ArtifactHex(absl::string_view id);

// A name the coordinator takes ([A-Za-z0-9._-], 1 to kMaxArtifactNameLength, no leading dot)
// made from any file name: other characters become '_', leading dots go, "artifact" if nothing
// is left. What polyctl and the Python client name an upload by default.
std::string ArtifactNameFor(absl::string_view file_name);

// The first chunk names the artifact and carries its id; the others carry data only. Every
// chunk holds at most kArtifactChunkBytes.
absl::Status ValidateUploadArtifactRequest(const polytrain::v1::UploadArtifactRequest& chunk,
                                           bool first);
absl::Status ValidateListArtifactsRequest(const polytrain::v1::ListArtifactsRequest& request);
absl::Status ValidateDeleteArtifactRequest(const polytrain::v1::DeleteArtifactRequest& request);

// An artifact a JobSpec names, with the field that names it ("spec.model.torchscript.artifact")
// and what that field's file must be.
struct NamedArtifact {
  std::string field;
  std::string id;
  TorchFile kind = TorchFile::kTorchSave;
};
// Those of `spec` (model and dataset), under `path` (normally "spec"); not validated here.
std::vector<NamedArtifact> ArtifactsNamedBy(const polytrain::v1::JobSpec& spec,
                                            absl::string_view path = "spec");

}  // namespace polytrain

#endif  // POLYTRAIN_API_ARTIFACTS_H_
