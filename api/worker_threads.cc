#include "api/worker_threads.h"

#include <algorithm>

namespace polytrain {

int ThreadsPerJob(int threads, int slots) { return std::max(1, threads / std::max(1, slots)); }

}  // namespace polytrain
