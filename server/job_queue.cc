#include "server/job_queue.h"

namespace polytrain {

DeviceNeed DeviceNeedOf(const polytrain::v1::JobSpec& spec) {
  return spec.device() == polytrain::v1::DEVICE_CUDA ? DeviceNeed::kCuda : DeviceNeed::kAny;
}

void JobQueue::Push(const polytrain::v1::Job& job, Clock::time_point now) {
  Remove(job.id());
  const DeviceNeed need = DeviceNeedOf(job.spec());
  const Key key{job.spec().priority(), next_order_++};
  LaneFor(need).emplace(key, Entry{job.id(), job.spec().priority(), need, now});
  index_[job.id()] = {need, key};
}

bool JobQueue::Remove(const std::string& job_id) {
  auto it = index_.find(job_id);
  if (it == index_.end()) return false;
  LaneFor(it->second.first).erase(it->second.second);
  index_.erase(it);
  return true;
}

std::optional<JobQueue::Entry> JobQueue::Next(bool cuda) const {
  const Lane::const_iterator any = any_.begin();
  if (!cuda || cuda_.empty()) {
    if (any == any_.end()) return std::nullopt;
    return any->second;
  }
  const Lane::const_iterator gpu = cuda_.begin();
  if (any == any_.end() || gpu->first < any->first) return gpu->second;
  return any->second;
}

}  // namespace polytrain
