#include "worker/compute_threads.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "ATen/Parallel.h"
#include "absl/strings/str_cat.h"

namespace polytrain {

int ThreadsPerJob(int cores, int slots) { return std::max(1, cores / std::max(1, slots)); }

int JobThreads(int requested, int limit) { return std::max(1, std::min(requested, limit)); }

std::string SetComputeThreads(int threads) {
  at::set_num_threads(threads);
  std::string blas = "BLAS threads left as they are (not OpenBLAS)";
  // Looked up at run time: libtorch links the system's libblas.so.3, which is OpenBLAS only
  // where the distribution's alternatives say so.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(threads);
    blas = absl::StrCat(threads, " OpenBLAS thread(s)");
  }
  return absl::StrCat(threads, " LibTorch thread(s), ", blas);
}

int MachineCores() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online)
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace polytrain
