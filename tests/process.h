// Real processes for integration tests: start a binary with arguments, kill it (SIGTERM or
// SIGKILL), wait for it. The destructor kills what is still running.
#ifndef POLYTRAIN_TESTS_PROCESS_H_
#define POLYTRAIN_TESTS_PROCESS_H_

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace polytrain::testing {

class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args) {
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  // Sends `signal` and reaps the process; returns its wait status (or -1 if it was gone).
  int Kill(int signal) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTS_PROCESS_H_
