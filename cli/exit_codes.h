// The exit codes of every PolyTrain command-line tool (polyctl, polyloss, polytrain-worker,
// polytrain-coordinator), one table with one meaning per code. README's "Exit codes" section and
// each tool's --help print ExitCodesHelp().
#ifndef POLYTRAIN_CLI_EXIT_CODES_H_
#define POLYTRAIN_CLI_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"

namespace polytrain {

enum ExitCode : int {
  kExitOk = 0,
  // A spec, file, flag value or request field is invalid; the message names it.
  kExitInvalid = 1,
  // The command line itself is wrong (an unknown flag, a missing argument).
  kExitUsage = 2,
  // The coordinator cannot be reached.
  kExitUnreachable = 3,
  // An id or file that does not exist.
  kExitNotFound = 4,
  // Not allowed now, e.g. cancelling a job that already ended, a request id already used for
  // another request, too many uploads at once.
  kExitPrecondition = 5,
  // The job did not succeed: it failed, its training diverged, or it was cancelled.
  kExitJobFailed = 6,
  // Anything else; a bug or the machine (disk, memory).
  kExitInternal = 7,
  // No token, an unknown token, or someone else's job.
  kExitDenied = 8,
};

// The code for an error (kExitOk for OK): INVALID_ARGUMENT and OUT_OF_RANGE 1, UNAVAILABLE and
// DEADLINE_EXCEEDED 3, NOT_FOUND 4, FAILED_PRECONDITION, ALREADY_EXISTS and RESOURCE_EXHAUSTED 5,
// ABORTED (diverged) and CANCELLED 6, UNAUTHENTICATED and PERMISSION_DENIED 8, others 7.
ExitCode ExitCodeFor(const absl::Status& status);

// The table in words, for --help footers.
std::string ExitCodesHelp();

}  // namespace polytrain

#endif  // POLYTRAIN_CLI_EXIT_CODES_H_
