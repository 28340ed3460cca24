// What a file a job names must be, checked without LibTorch and without reading it whole: a
// TorchScript module (torch.jit.save) or a dict of tensors (torch.save) is a zip archive whose
// directory keeps zip_records.h's rules. The worker checks before LibTorch reads a file, and the
// coordinator checks an uploaded artifact when a job names it, so that a wrong file is refused
// at submit rather than after a worker has started the job; both say it in the same words.
#ifndef POLYTRAIN_COMMON_TORCH_FILE_CHECK_H_
#define POLYTRAIN_COMMON_TORCH_FILE_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace polytrain {

enum class TorchFile {
  kTorchScript,  // torch.jit.save
  kTorchSave,    // torch.save (its zip format, torch >= 1.6's default)
};

// INVALID_ARGUMENT "<field>: not a TorchScript file (torch.jit.save): <why>" (or "not a file
// torch.save wrote: ...", or that it is torch.save's legacy format) unless `path` holds a zip
// archive of that kind; INTERNAL when the file (which the caller found) cannot be opened.
absl::Status CheckTorchFile(const std::string& path, const std::string& field, TorchFile kind);

}  // namespace polytrain

#endif  // POLYTRAIN_COMMON_TORCH_FILE_CHECK_H_
