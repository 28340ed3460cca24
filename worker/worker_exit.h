// How polytrain-worker ends on an error, in each of its modes (worker_main.cc's flags, a --spec
// run, service mode): its name, the message and the exit code (cli/exit_codes.h).
#ifndef POLYTRAIN_WORKER_WORKER_EXIT_H_
#define POLYTRAIN_WORKER_WORKER_EXIT_H_

#include "absl/status/status.h"
#include "cli/command_line.h"

namespace polytrain::worker_exit {

// The name the worker's messages on stderr start with.
inline constexpr char kTool[] = "polytrain-worker";

// Prints "polytrain-worker: <message>" (a JSON line under --log_format json; the usage hint
// for a usage error); returns `code`.
inline int Fail(int code, const absl::Status& status) { return ExitWithCode(kTool, code, status); }

}  // namespace polytrain::worker_exit

#endif  // POLYTRAIN_WORKER_WORKER_EXIT_H_
