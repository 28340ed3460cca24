#include "worker/compute_threads.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "ATen/Parallel.h"
#include "absl/strings/str_cat.h"

namespace polytrain {

int JobThreads(int requested, int limit) { return std::max(1, std::min(requested, limit)); }

std::string SetComputeThreads(int threads, ThreadPool pool) {
  const int intra_op = pool == ThreadPool::kLibTorch ? threads : 1;
  const int blas = pool == ThreadPool::kBlas ? threads : 1;
  at::set_num_threads(intra_op);
  std::string blas_words = "BLAS threads left as they are (not OpenBLAS)";
  // Looked up at run time: libtorch links the system's libblas.so.3, which is OpenBLAS only
  // where the distribution's alternatives say so.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(blas);
    blas_words = absl::StrCat(blas, " OpenBLAS");
  }
  return absl::StrCat(intra_op, " LibTorch thread(s), ", blas_words);
}

int MachineCores() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online)
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace polytrain
