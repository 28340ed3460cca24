// Who makes a request of the Coordinator service. An admin (or anyone, when the coordinator runs
// without tokens) sees every job; a client owns the jobs it submits and sees and changes only
// those. Every request takes one explicitly: there is no default caller.
#ifndef POLYTRAIN_SERVER_CALLER_H_
#define POLYTRAIN_SERVER_CALLER_H_

#include <string>
#include <utility>

namespace polytrain {

// The token a worker's stream authenticated with: its name in the tokens file (what a worker's
// name is bound to while its jobs wait for it) and the SHA-256 of the token itself (what a reload
// of --tokens revokes: a name may hold several tokens, one of them leaked). Both empty without
// tokens.
struct WorkerToken {
  std::string name;
  std::string fingerprint;  // 64 hex digits, as in the tokens file
};

struct Caller {
  std::string name;  // becomes Job.owner of what it submits
  bool own_jobs_only = false;

  static Caller Admin(std::string name) { return {std::move(name), false}; }
  static Caller Client(std::string name) { return {std::move(name), true}; }
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_CALLER_H_
