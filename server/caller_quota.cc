#include "server/caller_quota.h"

namespace polytrain {

bool CallerQuota::TryAcquire(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  int& held = held_[caller];
  if (held >= per_caller_) return false;
  ++held;
  return true;
}

void CallerQuota::Release(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(caller);
  if (it == held_.end()) return;
  if (--it->second <= 0) held_.erase(it);
}

int CallerQuota::Held(const std::string& caller) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(caller);
  return it == held_.end() ? 0 : it->second;
}

}  // namespace polytrain
