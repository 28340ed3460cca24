#include "worker/child_spawn.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace polytrain {

namespace {

constexpr int kFirstFreeDescriptor = kChildExtraDescriptor + 1;  // those below are the child's

// A descriptor numbered where the child's own go (0-3) could be written over by another's dup2
// before its own: it is handed over through a copy above them.
int AboveChildDescriptors(int fd, std::vector<int>* copies) {
  if (fd < 0 || fd >= kFirstFreeDescriptor) return fd;
  const int copy = fcntl(fd, F_DUPFD_CLOEXEC, kFirstFreeDescriptor);
  if (copy >= 0) copies->push_back(copy);
  return copy;
}

}  // namespace

int SpawnChild(const std::string& binary, std::vector<std::string> args,
               const ChildDescriptors& given, pid_t* pid) {
  std::vector<int> copies;
  ChildDescriptors descriptors;
  for (auto [from, to] :
       {std::pair{given.input, &descriptors.input}, std::pair{given.errors, &descriptors.errors},
        std::pair{given.extra, &descriptors.extra}}) {
    *to = AboveChildDescriptors(from, &copies);
    if (from >= 0 && *to < 0) {
      const int error = errno;
      for (int copy : copies) close(copy);
      return error;
    }
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (descriptors.input >= 0) {
    posix_spawn_file_actions_adddup2(&actions, descriptors.input, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (descriptors.errors >= 0) {
    posix_spawn_file_actions_adddup2(&actions, descriptors.errors, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  if (descriptors.extra >= 0) {
    posix_spawn_file_actions_adddup2(&actions, descriptors.extra, kChildExtraDescriptor);
  }
  posix_spawn_file_actions_addclosefrom_np(
      &actions, descriptors.extra >= 0 ? kFirstFreeDescriptor : kChildExtraDescriptor);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  const int spawned = posix_spawn(pid, binary.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  for (int copy : copies) close(copy);
  return spawned;
}

}  // namespace polytrain
