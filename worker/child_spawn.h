// Starting a child process of the worker (the load probe's, a gang's connections): in a process
// group of its own, so that a Ctrl-C or a signal to the worker's group is not the child's, with
// none of the worker's descriptors but those it is given (its sockets and its jobs' files stay
// the worker's, close-on-exec or not).
#ifndef POLYTRAIN_WORKER_CHILD_SPAWN_H_
#define POLYTRAIN_WORKER_CHILD_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace polytrain {

inline constexpr int kChildExtraDescriptor = 3;

// What the child gets besides its stdout, which is /dev/null.
struct ChildDescriptors {
  int input = -1;   // its stdin; -1: /dev/null
  int errors = -1;  // its stderr; -1: /dev/null
  int extra = -1;   // its kChildExtraDescriptor; -1: none
};

// Starts `binary` with `args` (args[0] is the name ps shows). 0 and the child's pid in *pid, or
// posix_spawn's error number; on success the child has exec'd (glibc's posix_spawn waits).
int SpawnChild(const std::string& binary, std::vector<std::string> args,
               const ChildDescriptors& given, pid_t* pid);

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_CHILD_SPAWN_H_
