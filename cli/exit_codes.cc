#include "cli/exit_codes.h"

namespace polytrain {

ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kResourceExhausted:
      return kExitPrecondition;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return kExitJobFailed;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitInternal;
  }
}

std::string ExitCodesHelp() {
  return "Exit codes: 0 success, 1 invalid input (a spec or its file, a request field, a value "
         "checked after parsing; the message names it), 2 bad command line (an unknown flag, a "
         "missing argument, a value the parser refuses), 3 coordinator unreachable, 4 not found "
         "(an "
         "unknown id or a missing file), 5 not allowed now (e.g. cancelling a finished job, a "
         "request "
         "id already used for another request, too many uploads at once), 6 "
         "the job did not succeed (failed, training diverged, or cancelled), 7 internal error, 8 "
         "no or an unknown token, or not your job. Every PolyTrain tool uses this one table.";
}

}  // namespace polytrain
