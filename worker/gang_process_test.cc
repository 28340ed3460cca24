// A gang's connections in a process of their own (GangOptions.process_binary: polytrain-worker
// itself, as a worker runs them): sums and broadcasts as in this process, and a peer that sends
// what Gloo cannot take ends that process, never this one.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "gtest/gtest.h"
#include "torch/version.h"
#include "worker/replica_group.h"

namespace polytrain {
namespace {

constexpr char kWorker[] = POLYTRAIN_WORKER_BINARY;

GangOptions Contained(int rank, const std::string& rendezvous = "") {
  GangOptions options;
  options.rank = rank;
  options.world_size = 2;
  options.rendezvous = rendezvous;
  options.timeout = std::chrono::seconds(60);
  options.process_binary = kWorker;
  return options;
}

// Both ranks opened (rank 0 first, for its rendezvous) and joined side by side.
std::vector<std::unique_ptr<ReplicaGroup>> JoinedPair(GangOptions lead, GangOptions other) {
  std::vector<std::unique_ptr<ReplicaGroup>> groups;
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> opened = ReplicaGroup::Open(lead);
  EXPECT_TRUE(opened.ok()) << opened.status();
  if (!opened.ok()) return {};
  groups.push_back(*std::move(opened));
  other.rendezvous = groups[0]->rendezvous();
  opened = ReplicaGroup::Open(other);
  EXPECT_TRUE(opened.ok()) << opened.status();
  if (!opened.ok()) return {};
  groups.push_back(*std::move(opened));
  auto joined = std::async(std::launch::async, [&] { return groups[1]->Join(); });
  const absl::Status lead_joined = groups[0]->Join();
  const absl::Status other_joined = joined.get();
  EXPECT_TRUE(lead_joined.ok()) << lead_joined;
  EXPECT_TRUE(other_joined.ok()) << other_joined;
  if (!lead_joined.ok() || !other_joined.ok()) return {};
  return groups;
}

// Both ranks with gradient buckets of at most `bucket_bytes`.
std::vector<std::unique_ptr<ReplicaGroup>> JoinedPair(int64_t bucket_bytes) {
  GangOptions lead = Contained(0);
  lead.bucket_bytes = bucket_bytes;
  GangOptions other = Contained(1);
  other.bucket_bytes = bucket_bytes;
  return JoinedPair(lead, other);
}

// One step of `weights.size()` parameters filled with `fill`: backward of sum(w * fill).
struct Rank {
  std::vector<torch::Tensor> weights;
  double fill = 1.0;
  double weight = 1.0;
  absl::StatusOr<torch::Tensor> Step(ReplicaGroup& group) {
    group.BeginStep(weight, torch::tensor(fill, torch::kDouble));
    torch::Tensor loss = torch::zeros({}, torch::kDouble);
    for (const torch::Tensor& w : weights) loss = loss + (w * fill).sum();
    loss.backward();
    return group.FinishStep();
  }
};

Rank MakeRank(std::vector<int64_t> sizes, double fill) {
  Rank rank;
  for (int64_t size : sizes) {
    rank.weights.push_back(torch::zeros({size}, torch::kDouble).requires_grad_());
  }
  rank.fill = fill;
  return rank;
}

TEST(GangProcessTest, SumsAndBroadcastsAsInThisProcess) {
  // Two buckets (each parameter its own: 80 and 800 bytes against a 100-byte bucket limit), both
  // in flight at once, each at its own place in the shared memory.
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(/*bucket_bytes=*/100);
  ASSERT_EQ(gang.size(), 2u);
  EXPECT_STREQ(gang[0]->backend(), "gloo");
  EXPECT_TRUE(gang[0]->in_own_process());
  std::vector<Rank> ranks = {MakeRank({10, 100}, 1.5), MakeRank({10, 100}, 4.0)};
  ranks[0].weight = 0.25;
  ranks[1].weight = 0.75;
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(gang[r]->AttachTo(ranks[r].weights).ok());
  EXPECT_EQ(gang[0]->buckets(), 2u);
  for (int step = 0; step < 3; ++step) {
    auto other = std::async(std::launch::async, [&] { return ranks[1].Step(*gang[1]); });
    absl::StatusOr<torch::Tensor> lead = ranks[0].Step(*gang[0]);
    absl::StatusOr<torch::Tensor> second = other.get();
    ASSERT_TRUE(lead.ok()) << lead.status();
    ASSERT_TRUE(second.ok()) << second.status();
    const double expected = 0.25 * 1.5 + 0.75 * 4.0;
    EXPECT_DOUBLE_EQ(lead->item<double>(), expected);
    EXPECT_DOUBLE_EQ(second->item<double>(), expected);
    for (const Rank& rank : ranks) {
      for (const torch::Tensor& w : rank.weights) {
        EXPECT_TRUE(torch::equal(w.grad(), torch::full_like(w, expected)));
      }
    }
    for (Rank& rank : ranks) {
      for (torch::Tensor& w : rank.weights) w.mutable_grad() = torch::Tensor();
    }
  }
  // A sum of 4 MB, past the gradients' memory and its 1 MiB of room for metrics (both sides map
  // it anew), and broadcasts of rank 0's values: floats, a view, and a model's bool and uint8
  // buffers (masks).
  constexpr int64_t kValues = 1 << 20;
  std::vector<torch::Tensor> values = {torch::arange(kValues, torch::kFloat),
                                       torch::ones({kValues}, torch::kFloat)};
  auto other = std::async(std::launch::async, [&] { return gang[1]->Sum(values[1]); });
  ASSERT_TRUE(gang[0]->Sum(values[0]).ok());
  ASSERT_TRUE(other.get().ok());
  EXPECT_TRUE(torch::equal(values[0], torch::arange(kValues, torch::kFloat) + 1));
  EXPECT_TRUE(torch::equal(values[1], values[0]));
  const torch::Tensor mask = torch::tensor({true, false, true});
  const torch::Tensor bytes = torch::tensor({7, 200}, torch::kUInt8);
  std::vector<std::vector<torch::Tensor>> state = {
      {torch::full({3, 4}, 7.0), mask.clone(), bytes.clone()},
      {torch::zeros({3, 4}).t(), torch::zeros({3}, torch::kBool),
       torch::zeros({2}, torch::kUInt8)}};
  auto broadcast = std::async(std::launch::async, [&] { return gang[1]->Broadcast(state[1]); });
  const absl::Status lead_broadcast = gang[0]->Broadcast(state[0]);
  const absl::Status other_broadcast = broadcast.get();
  ASSERT_TRUE(lead_broadcast.ok()) << lead_broadcast;
  ASSERT_TRUE(other_broadcast.ok()) << other_broadcast;
  EXPECT_TRUE(torch::equal(state[1][0], torch::full({4, 3}, 7.0)));  // a view, written in place
  EXPECT_TRUE(torch::equal(state[1][1], mask));
  EXPECT_TRUE(torch::equal(state[1][2], bytes));
}

// A model of many small parameters in buckets of one each: hundreds of sums in flight in one
// step, more replies than the socket holds unread (unread, parent and child would each wait to
// send: the step is cancelled after two minutes, so that a deadlock fails here as CANCELLED).
TEST(GangProcessTest, HundredsOfBucketsInOneStep) {
  std::atomic<bool> cancel{false};
  GangOptions lead = Contained(0);
  GangOptions other_rank = Contained(1);
  for (GangOptions* options : {&lead, &other_rank}) {
    options->bucket_bytes = 1;
    options->cancel = &cancel;
  }
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(lead, other_rank);
  ASSERT_EQ(gang.size(), 2u);
  const std::vector<int64_t> sizes(1000, 1);
  std::vector<Rank> ranks = {MakeRank(sizes, 1.0), MakeRank(sizes, 2.0)};
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(gang[r]->AttachTo(ranks[r].weights).ok());
  EXPECT_EQ(gang[0]->buckets(), 1000u);
  std::promise<void> stepped;
  auto watchdog = std::async(std::launch::async, [&, done = stepped.get_future()] {
    if (done.wait_for(std::chrono::minutes(2)) != std::future_status::ready) cancel = true;
  });
  // Released however the steps end (a throw too), so the watchdog's end is not waited out.
  absl::Cleanup release_watchdog = [&] { stepped.set_value(); };
  auto other = std::async(std::launch::async, [&] { return ranks[1].Step(*gang[1]); });
  const absl::StatusOr<torch::Tensor> step = ranks[0].Step(*gang[0]);
  const absl::StatusOr<torch::Tensor> other_step = other.get();
  std::move(release_watchdog).Invoke();
  watchdog.get();
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_TRUE(other_step.ok()) << other_step.status();
  EXPECT_DOUBLE_EQ(step->item<double>(), 3.0);
  for (const torch::Tensor& w : ranks[0].weights) EXPECT_EQ(w.grad().item<double>(), 3.0);
}

// An error the gang's process answers (here: a type it does not sum) fails the step on every
// rank alike, and the replies stay in step: the next sum is answered as its own.
TEST(GangProcessTest, AnAnsweredErrorFailsTheStepAndTheGangGoesOn) {
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(Contained(0), Contained(1));
  ASSERT_EQ(gang.size(), 2u);
  std::vector<std::vector<torch::Tensor>> weights(2);
  for (int r = 0; r < 2; ++r) {
    weights[r] = {torch::zeros({4}, torch::kComplexFloat).requires_grad_()};
    ASSERT_TRUE(gang[r]->AttachTo(weights[r]).ok());
  }
  // No backward: FinishStep sums zeros for every gradient backward did not reach.
  auto step = [&](int r) {
    gang[r]->BeginStep(1.0, torch::tensor(1.0));
    return gang[r]->FinishStep().status();
  };
  auto other = std::async(std::launch::async, step, 1);
  const absl::Status lead = step(0);
  const absl::Status second = other.get();
  for (const absl::Status& status : {lead, second}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
    EXPECT_NE(status.message().find("cannot be summed or broadcast"), std::string::npos) << status;
  }
  std::vector<torch::Tensor> values = {torch::full({3}, 2.0), torch::full({3}, 5.0)};
  auto sum = std::async(std::launch::async, [&] { return gang[1]->Sum(values[1]); });
  ASSERT_TRUE(gang[0]->Sum(values[0]).ok());
  ASSERT_TRUE(sum.get().ok());
  EXPECT_TRUE(torch::equal(values[0], torch::full({3}, 7.0)));
}

// Probe CP: a hostile rank's all-reduce of the wrong length made Gloo throw on its transport
// thread, and the process it was in (an honest worker, with every job on it) aborted. Here each
// rank's Gloo is in its own process: whichever aborts, both ranks come back UNAVAILABLE, as for
// a gang lost, and this process goes on.
TEST(GangProcessTest, TrafficGlooCannotTakeEndsTheGangsProcessNotThisOne) {
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(Contained(0), Contained(1));
  ASSERT_EQ(gang.size(), 2u);
  std::vector<Rank> ranks = {MakeRank({16}, 1.0), MakeRank({4096}, 1.0)};
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(gang[r]->AttachTo(ranks[r].weights).ok());
  auto other = std::async(std::launch::async, [&] { return ranks[1].Step(*gang[1]); });
  const absl::StatusOr<torch::Tensor> lead = ranks[0].Step(*gang[0]);
  const absl::StatusOr<torch::Tensor> second = other.get();
  EXPECT_EQ(lead.status().code(), absl::StatusCode::kUnavailable) << lead.status();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  const std::string said =
      std::string(lead.status().message()) + "\n" + std::string(second.status().message());
  EXPECT_NE(said.find("the process that carries this rank's gang traffic is gone: it was ended "
                      "by signal 6"),
            std::string::npos)
      << said;
  // The rank stays lost: its next collective says the same at once.
  torch::Tensor values = torch::ones({1});
  EXPECT_EQ(gang[0]->Sum(values).code(), absl::StatusCode::kUnavailable);
}

// A peer that hangs (a stopped host, a rank that never steps) holds a rank in its all-reduce for
// the whole timeout; the coordinator's cancel ends the gang's process there instead.
TEST(GangProcessTest, ACancelEndsAWaitForAPeerThatHangs) {
  std::atomic<bool> cancel{false};
  GangOptions lead = Contained(0);
  lead.cancel = &cancel;
  lead.timeout = std::chrono::hours(1);
  GangOptions other = Contained(1);
  other.timeout = std::chrono::hours(1);
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(lead, other);
  ASSERT_EQ(gang.size(), 2u);
  Rank rank = MakeRank({8}, 1.0);
  ASSERT_TRUE(gang[0]->AttachTo(rank.weights).ok());
  std::thread coordinator([&] { cancel = true; });  // at any moment of the step
  const absl::StatusOr<torch::Tensor> step = rank.Step(*gang[0]);
  coordinator.join();
  EXPECT_EQ(step.status().code(), absl::StatusCode::kCancelled) << step.status();
  EXPECT_EQ(step.status().message(), "rank 0: cancelled in the data-parallel gradient all-reduce");
}

// Whether `pid` is gone and reaped (a zombie still answers kill).
bool Reaped(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// This process's children that carry gang traffic.
std::vector<pid_t> GangChildren() {
  std::vector<pid_t> children;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return children;
  while (dirent* task = readdir(tasks)) {
    std::ifstream listed(std::string("/proc/self/task/") + task->d_name + "/children");
    pid_t pid;
    while (listed >> pid) {
      std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
      const std::string command((std::istreambuf_iterator<char>(cmdline)),
                                std::istreambuf_iterator<char>());
      if (command.find("--gang_connection") != std::string::npos) children.push_back(pid);
    }
  }
  closedir(tasks);
  return children;
}

TEST(GangProcessTest, AKilledGangProcessIsAGangLostAndEndsWithItsGroup) {
  // A file of this process's that is not close-on-exec: the gang's processes do not hold it.
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  struct stat pipe_file;
  ASSERT_EQ(fstat(pipe_ends[0], &pipe_file), 0);
  const std::string pipe_name = "pipe:[" + std::to_string(pipe_file.st_ino) + "]";
  std::vector<std::unique_ptr<ReplicaGroup>> gang = JoinedPair(Contained(0), Contained(1));
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  ASSERT_EQ(gang.size(), 2u);
  std::vector<pid_t> children = GangChildren();
  ASSERT_EQ(children.size(), 2u);
  for (pid_t child : children) {
    const std::string fds = "/proc/" + std::to_string(child) + "/fd";
    DIR* listed = opendir(fds.c_str());
    ASSERT_NE(listed, nullptr);
    while (dirent* fd = readdir(listed)) {
      char target[256] = {};
      if (readlink((fds + "/" + fd->d_name).c_str(), target, sizeof(target) - 1) > 0) {
        EXPECT_NE(std::string(target), pipe_name) << "fd " << fd->d_name;
      }
    }
    closedir(listed);
    // Short of memory, the kernel ends a gang's process before its worker.
    int score = 0;
    std::ifstream("/proc/" + std::to_string(child) + "/oom_score_adj") >> score;
    EXPECT_EQ(score, 1000);
    kill(child, SIGKILL);
  }
  torch::Tensor values = torch::ones({4});
  auto other = std::async(std::launch::async, [&] { return gang[1]->Sum(values); });
  torch::Tensor lead_values = torch::ones({4});
  const absl::Status lead = gang[0]->Sum(lead_values);
  const absl::Status second = other.get();
  for (const absl::Status& status : {lead, second}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(status.message().find("data-parallel metric all-reduce failed on rank"),
              std::string::npos)
        << status;
    EXPECT_NE(status.message().find("is gone: it was ended by signal 9"), std::string::npos)
        << status;
  }
  for (pid_t child : children) EXPECT_TRUE(Reaped(child)) << child;
  // A group that ends takes its process with it (reaped: no zombie left).
  gang = JoinedPair(Contained(0), Contained(1));
  children = GangChildren();
  ASSERT_EQ(children.size(), 2u);
  gang.clear();
  for (pid_t child : children) EXPECT_TRUE(Reaped(child)) << child;
}

TEST(GangProcessTest, ACancelWhileJoiningEndsTheGangsProcess) {
  std::atomic<bool> cancel{false};
  GangOptions lead = Contained(0);
  lead.cancel = &cancel;
  lead.timeout = std::chrono::hours(1);
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> group = ReplicaGroup::Open(lead);
  ASSERT_TRUE(group.ok()) << group.status();
  const std::vector<pid_t> children = GangChildren();
  ASSERT_EQ(children.size(), 1u);
  std::thread coordinator([&] { cancel = true; });  // rank 1 never comes; the coordinator stops
  const absl::Status joined = (*group)->Join();
  coordinator.join();
  EXPECT_EQ(joined.code(), absl::StatusCode::kCancelled) << joined;
  EXPECT_EQ(joined.message(), "rank 0: cancelled while joining the gang");
  EXPECT_TRUE(Reaped(children[0]));
}

// An IPv4 address of this machine's other than loopback, if it has one.
std::string OtherAddressOfThisMachine() {
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return "";
  std::string found;
  for (ifaddrs* at = interfaces; at != nullptr && found.empty(); at = at->ifa_next) {
    if (at->ifa_addr == nullptr || at->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(at->ifa_addr)->sin_addr, text, sizeof(text));
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  freeifaddrs(interfaces);
  return found;
}

// Rank 0's store listens on its host alone where LibTorch can bind one (2.x); 1.13's store
// listens on every interface (README "Data-parallel jobs", Rendezvous).
TEST(GangProcessTest, RankZerosStoreListensOnItsHostWhereLibTorchCan) {
  const std::string other = OtherAddressOfThisMachine();
  if (other.empty()) GTEST_SKIP() << "this machine has no address but loopback";
  absl::StatusOr<std::unique_ptr<ReplicaGroup>> lead = ReplicaGroup::Open(Contained(0));
  ASSERT_TRUE(lead.ok()) << lead.status();
  const std::string rendezvous = (*lead)->rendezvous();
  ASSERT_EQ(rendezvous.rfind("127.0.0.1:", 0), 0u) << rendezvous;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(rendezvous.substr(10))));
  inet_pton(AF_INET, other.c_str(), &address.sin_addr);
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  const bool reached = connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(client);
  EXPECT_EQ(reached, TORCH_VERSION_MAJOR < 2) << other;
}

TEST(GangProcessTest, ABinaryThatCannotStartIsAGangLost) {
  GangOptions options = Contained(0);
  options.process_binary = "/nonexistent/polytrain-worker";
  const absl::Status opened = ReplicaGroup::Open(options).status();
  EXPECT_EQ(opened.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(opened.message().find("/nonexistent/polytrain-worker"), std::string::npos) << opened;
  // A rank whose host is not this machine's says so from its process, as from this one.
  options = Contained(1, "127.0.0.1:1");
  options.host = "192.0.2.1";
  const absl::Status elsewhere = ReplicaGroup::Open(options).status();
  EXPECT_EQ(elsewhere.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(elsewhere.message().find("rank 1: this worker's address for its peers, 192.0.2.1"),
            std::string::npos)
      << elsewhere;
}

}  // namespace
}  // namespace polytrain
