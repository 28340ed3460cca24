// The jobs waiting to run, indexed the way the scheduler takes them: by the device they need,
// then highest priority first, then oldest first. Every operation costs O(log n) in the jobs
// waiting (Next with k jobs to skip: O(k + log n)), so scheduling costs the same with ten jobs
// queued or a search's 100,000. Data-parallel jobs (gangs, replicas > 1) wait in a lane of their
// own that the scheduler reads whole: they are few, and each needs several workers at once.
#ifndef POLYTRAIN_SERVER_JOB_QUEUE_H_
#define POLYTRAIN_SERVER_JOB_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "polytrain/v1/job_record.pb.h"

namespace polytrain {

// What a job needs of a worker's devices.
enum class DeviceNeed { kAny, kCuda };

// DEVICE_CUDA needs a GPU; every other device runs on any worker.
DeviceNeed DeviceNeedOf(const polytrain::v1::JobSpec& spec);

class JobQueue {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    std::string job_id;
    int32_t priority = 0;
    DeviceNeed need = DeviceNeed::kAny;
    Clock::time_point queued_at;
    int32_t replicas = 1;
    int64_t order = 0;  // queue position within a priority: lower is older
    // DEVICE_ANY: a gang's ranks must then all have a GPU or all lack one (so that they all
    // train on the same kind of device and join the same kind of process group).
    bool any_device = false;
    // spec.threads (0 means 1): only a worker that gives each job this many runs it.
    int32_t threads = 1;
  };

  // Whether `a` comes before `b` in the scheduler's order (priority, then age).
  static bool Before(const Entry& a, const Entry& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.order < b.order;
  }

  // Queues a job behind every job of its priority (a job queued again goes to the back).
  void Push(const polytrain::v1::Job& job, Clock::time_point now);
  // Takes a job out wherever it is; false if it is not queued.
  bool Remove(const std::string& job_id);
  bool Contains(const std::string& job_id) const { return index_.count(job_id) != 0; }
  size_t size() const { return index_.size(); }

  // The first job of one replica in the scheduler's order among those a worker can run: with
  // `cuda`, every job; without, those that need no GPU. Jobs named in `skip` are passed over
  // (each costs a step). Empty when there is none.
  std::optional<Entry> Next(bool cuda, const std::set<std::string>& skip = {}) const;
  // The data-parallel jobs waiting, in the scheduler's order.
  std::vector<Entry> Gangs() const;
  // The entry of a queued job; empty when it is not queued.
  std::optional<Entry> Find(const std::string& job_id) const;

 private:
  struct Key {  // highest priority first, then oldest
    int32_t priority;
    int64_t order;
    bool operator<(const Key& o) const {
      return priority != o.priority ? priority > o.priority : order < o.order;
    }
  };
  using Lane = std::map<Key, Entry>;

  enum class LaneId { kAny, kCuda, kGang };
  Lane& LaneOf(LaneId id) {
    return id == LaneId::kGang ? gangs_ : id == LaneId::kCuda ? cuda_ : any_;
  }

  Lane any_;    // jobs of one replica any worker can run
  Lane cuda_;   // jobs of one replica that need a GPU
  Lane gangs_;  // data-parallel jobs, whatever their device
  std::unordered_map<std::string, std::pair<LaneId, Key>> index_;
  int64_t next_order_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_JOB_QUEUE_H_
