// The worker runs in one of two modes, a --spec run or service mode (--coordinator); a flag of
// the other mode does nothing there, and is said to, rather than seem to work.
#ifndef POLYTRAIN_WORKER_MODE_FLAGS_H_
#define POLYTRAIN_WORKER_MODE_FLAGS_H_

#include "CLI/CLI.hpp"

namespace polytrain {

// Warns on stderr of each flag given to `app` that the mode (`spec_run`, else service mode)
// ignores, with why.
void WarnOfTheOtherModesFlags(const CLI::App& app, bool spec_run);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_MODE_FLAGS_H_
