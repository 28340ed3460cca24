// How many of something (streams, uploads) each caller holds at once, up to a limit per caller.
// Thread-safe.
#ifndef POLYTRAIN_SERVER_CALLER_QUOTA_H_
#define POLYTRAIN_SERVER_CALLER_QUOTA_H_

#include <map>
#include <mutex>
#include <string>

namespace polytrain {

class CallerQuota {
 public:
  explicit CallerQuota(int per_caller) : per_caller_(per_caller) {}

  // Takes one for `caller`: false when it holds per_caller already.
  bool TryAcquire(const std::string& caller);
  // Gives back one TryAcquire took.
  void Release(const std::string& caller);

  int per_caller() const { return per_caller_; }
  int Held(const std::string& caller) const;

 private:
  const int per_caller_;
  mutable std::mutex mu_;
  std::map<std::string, int> held_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_CALLER_QUOTA_H_
