// A child of the worker gets the descriptors it is given and no other, in a process group of its
// own, even where a given descriptor is numbered where the child's own go.
#include "worker/child_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

std::string LinkOf(const std::string& path) {
  std::error_code error;
  return std::filesystem::read_symlink(path, error).string();
}

std::set<std::string> OpenDescriptors(pid_t pid) {
  std::set<std::string> open;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    open.insert(entry.path().filename().string());
  }
  return open;
}

// The child's descriptors once they are `expected`, or as they are after 10 s: the dynamic
// loader, then cat's locale, hold a file open for a moment after the exec, while a descriptor
// that leaked stays for good.
std::set<std::string> DescriptorsWhenSettled(pid_t pid, const std::set<std::string>& expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::set<std::string> open = OpenDescriptors(pid);
  while (open != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    open = OpenDescriptors(pid);
  }
  return open;
}

void EndChild(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST(ChildSpawnTest, OnlyTheGivenDescriptorsReachTheChild) {
  int input[2];
  ASSERT_EQ(pipe(input), 0);  // neither end close-on-exec: only closefrom keeps them here
  const int stray = memfd_create("polytrain-test-stray", 0);
  const int extra = memfd_create("polytrain-test-extra", MFD_CLOEXEC);
  ASSERT_GE(stray, 0);
  ASSERT_GE(extra, 0);
  ChildDescriptors descriptors;
  descriptors.input = input[0];
  descriptors.extra = extra;
  pid_t pid = 0;
  ASSERT_EQ(SpawnChild("/bin/cat", {"cat"}, descriptors, &pid), 0);  // waits on its stdin
  const std::set<std::string> open = DescriptorsWhenSettled(pid, {"0", "1", "2", "3"});
  const std::string child_fd = "/proc/" + std::to_string(pid) + "/fd/";
  const std::string stdin_link = LinkOf(child_fd + "0");
  const std::string stdout_link = LinkOf(child_fd + "1");
  const std::string stderr_link = LinkOf(child_fd + "2");
  const std::string extra_link = LinkOf(child_fd + "3");
  const pid_t group = getpgid(pid);
  EndChild(pid);
  EXPECT_EQ(open, (std::set<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(stdin_link, LinkOf("/proc/self/fd/" + std::to_string(input[0])));
  EXPECT_EQ(stdout_link, "/dev/null");
  EXPECT_EQ(stderr_link, "/dev/null");
  EXPECT_NE(extra_link.find("polytrain-test-extra"), std::string::npos) << extra_link;
  EXPECT_EQ(group, pid);
  for (int fd : {input[0], input[1], stray, extra}) close(fd);
}

// Without an extra descriptor (the load probe's child), the worker's descriptor 3 stays out of
// the child too.
TEST(ChildSpawnTest, WithoutAnExtraDescriptorTheChildHasOnlyItsStandardThree) {
  // Descriptor 3 taken first (a file not close-on-exec), so that the pipe's ends are above it.
  const int saved = fcntl(3, F_GETFD) >= 0 ? fcntl(3, F_DUPFD_CLOEXEC, 10) : -1;
  const int stray = memfd_create("polytrain-test-stray", 0);
  ASSERT_GE(stray, 0);
  ASSERT_EQ(dup2(stray, 3), 3);
  if (stray != 3) close(stray);
  int input[2];
  ASSERT_EQ(pipe2(input, O_CLOEXEC), 0);
  ASSERT_GT(input[0], 3);
  ChildDescriptors descriptors;
  descriptors.input = input[0];
  pid_t pid = 0;
  const int spawned = SpawnChild("/bin/cat", {"cat"}, descriptors, &pid);
  std::set<std::string> open;
  if (spawned == 0) {
    open = DescriptorsWhenSettled(pid, {"0", "1", "2"});
    EndChild(pid);
  }
  if (saved >= 0) {
    dup2(saved, 3);
    close(saved);
  } else {
    close(3);
  }
  for (int fd : input) close(fd);
  ASSERT_EQ(spawned, 0);
  EXPECT_EQ(open, (std::set<std::string>{"0", "1", "2"}));
}

// The worker's descriptor 0 given as the child's stderr: the child's stdin, set up first, must
// not write over it before it is handed on.
TEST(ChildSpawnTest, ADescriptorNumberedAsTheChildsOwnReachesItsPlace) {
  int output[2];
  int input[2];
  ASSERT_EQ(pipe2(output, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(input, O_CLOEXEC), 0);
  const int saved_stdin = dup(STDIN_FILENO);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(dup2(output[1], STDIN_FILENO), STDIN_FILENO);
  close(output[1]);
  ChildDescriptors descriptors;
  descriptors.input = input[0];
  descriptors.errors = STDIN_FILENO;
  pid_t pid = 0;
  const int spawned = SpawnChild("/bin/sh", {"sh", "-c", "echo to-stderr >&2"}, descriptors, &pid);
  dup2(saved_stdin, STDIN_FILENO);
  close(saved_stdin);
  close(input[0]);
  close(input[1]);
  ASSERT_EQ(spawned, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  char buffer[64] = {};
  const ssize_t got = read(output[0], buffer, sizeof(buffer) - 1);
  close(output[0]);
  EXPECT_EQ(std::string(buffer, got > 0 ? static_cast<size_t>(got) : 0), "to-stderr\n");
}

TEST(ChildSpawnTest, ABinaryThatIsNotThereIsAnError) {
  pid_t pid = 0;
  EXPECT_EQ(
      SpawnChild("/nonexistent/polytrain-worker", {"polytrain-worker"}, ChildDescriptors(), &pid),
      ENOENT);
}

}  // namespace
}  // namespace polytrain
