#include "server/job_queue.h"

#include <algorithm>

#include "api/job_spec_defaults.h"

namespace polytrain {

DeviceNeed DeviceNeedOf(const polytrain::v1::JobSpec& spec) {
  return spec.device() == polytrain::v1::DEVICE_CUDA ? DeviceNeed::kCuda : DeviceNeed::kAny;
}

void JobQueue::Push(const polytrain::v1::Job& job, Clock::time_point now) {
  Remove(job.id());
  const DeviceNeed need = DeviceNeedOf(job.spec());
  const int32_t replicas = std::max(1, job.spec().replicas());
  const Key key{job.spec().priority(), next_order_++};
  const LaneId lane = replicas > 1                ? LaneId::kGang
                      : need == DeviceNeed::kCuda ? LaneId::kCuda
                                                  : LaneId::kAny;
  LaneOf(lane).emplace(
      key, Entry{job.id(), job.spec().priority(), need, now, replicas, key.order,
                 job.spec().device() == polytrain::v1::DEVICE_ANY, Threads(job.spec())});
  index_[job.id()] = {lane, key};
}

bool JobQueue::Remove(const std::string& job_id) {
  auto it = index_.find(job_id);
  if (it == index_.end()) return false;
  LaneOf(it->second.first).erase(it->second.second);
  index_.erase(it);
  return true;
}

std::optional<JobQueue::Entry> JobQueue::Next(bool cuda, const std::set<std::string>& skip) const {
  auto first = [&skip](const Lane& lane) {
    Lane::const_iterator it = lane.begin();
    while (it != lane.end() && skip.count(it->second.job_id) != 0) ++it;
    return it;
  };
  const Lane::const_iterator any = first(any_);
  const Lane::const_iterator gpu = cuda ? first(cuda_) : cuda_.end();
  if (gpu == cuda_.end()) {
    if (any == any_.end()) return std::nullopt;
    return any->second;
  }
  if (any == any_.end() || gpu->first < any->first) return gpu->second;
  return any->second;
}

std::optional<JobQueue::Entry> JobQueue::Find(const std::string& job_id) const {
  auto it = index_.find(job_id);
  if (it == index_.end()) return std::nullopt;
  const Lane& lane = it->second.first == LaneId::kGang   ? gangs_
                     : it->second.first == LaneId::kCuda ? cuda_
                                                         : any_;
  auto entry = lane.find(it->second.second);
  if (entry == lane.end()) return std::nullopt;
  return entry->second;
}

std::vector<JobQueue::Entry> JobQueue::Gangs() const {
  std::vector<Entry> gangs;
  gangs.reserve(gangs_.size());
  for (const auto& [key, entry] : gangs_) gangs.push_back(entry);
  return gangs;
}

}  // namespace polytrain
