#include "common/torch_file_check.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "common/zip_records.h"

namespace polytrain {
namespace {

// torch.save's format before torch 1.6 (or with _use_new_zipfile_serialization=False): a pickle
// that opens with torch's magic number 0x1950a86a20f9469cfc6c, not a zip archive.
bool IsLegacyTorchSave(absl::string_view head) {
  static constexpr char kMagic[] = "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
  return !head.empty() && head[0] == '\x80' &&
         head.substr(0, 32).find(absl::string_view(kMagic, sizeof(kMagic) - 1)) !=
             absl::string_view::npos;
}

}  // namespace

absl::Status CheckTorchFile(const std::string& path, const std::string& field, TorchFile kind) {
  TopLevelRecords records;
  if (kind == TorchFile::kTorchScript) {
    constexpr absl::string_view kWhat = "not a TorchScript file (torch.jit.save)";
    POLYTRAIN_RETURN_IF_ERROR(CheckZipFileRecords(path, field, kWhat, &records));
    // torch.jit.save's archives hold constants.pkl (torch.save's, of weights say, do not).
    if (records.count("constants.pkl") == 0) {
      return InvalidField(
          field, absl::StrCat(kWhat,
                              ": a zip archive without its record constants.pkl (torch.save "
                              "writes such archives, of a state_dict say: save the module itself "
                              "with torch.jit.save(torch.jit.script(model)))"));
    }
    return absl::OkStatus();
  }
  std::ifstream in(path, std::ios::binary);
  char head[32] = {};
  in.read(head, sizeof(head));
  if (IsLegacyTorchSave(absl::string_view(head, static_cast<size_t>(in.gcount())))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        ": torch.save's legacy format (before torch 1.6, or _use_new_zipfile_serialization=False); "
        "save it again with torch.save and the default zip format"));
  }
  constexpr absl::string_view kWhat = "not a file torch.save wrote";
  POLYTRAIN_RETURN_IF_ERROR(CheckZipFileRecords(path, field, kWhat, &records));
  // A TorchScript module also holds data.pkl (the module's attributes), which the worker would
  // fail to read as a dict without naming what the file is.
  if (records.count("constants.pkl") > 0) {
    return InvalidField(field, absl::StrCat(kWhat,
                                            ": a TorchScript module (torch.jit.save); the tensors "
                                            "file is a dict of tensors saved with "
                                            "torch.save({\"train_x\": ..., ...})"));
  }
  if (records.count("data.pkl") == 0) {
    return InvalidField(field, absl::StrCat(kWhat, ": a zip archive without its record data.pkl"));
  }
  return absl::OkStatus();
}

}  // namespace polytrain
