// Real processes for integration tests: start a binary with arguments, kill it (SIGTERM or
// SIGKILL), wait for it. The destructor kills what is still running.
#ifndef POLYTRAIN_TESTING_PROCESS_H_
#define POLYTRAIN_TESTING_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace polytrain::testing {

class Process {
 public:
  // With `output`, the process's stdout and stderr go to that file.
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::string& output = "") {
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!output.empty()) {
      posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and reaps the process; returns its wait status (or -1 if it was gone).
  int Kill(int signal) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // Waits for the process to exit on its own; returns its exit code (-1 if killed or gone).
  int Wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // As Wait, for at most `limit`; a process still running then is killed and -2 returned, so
  // that a test of an exit fails rather than hangs when the process does not exit.
  int WaitWithin(std::chrono::seconds limit) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    pid_t reaped = 0;
    while ((reaped = waitpid(pid_, &status, WNOHANG)) == 0 || (reaped < 0 && errno == EINTR)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        Kill(SIGKILL);
        return -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polls the exit, bounded
    }
    pid_ = -1;
    if (reaped < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace polytrain::testing

#endif  // POLYTRAIN_TESTING_PROCESS_H_
