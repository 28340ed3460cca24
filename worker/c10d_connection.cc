#include "worker/c10d_connection.h"

#include <sys/socket.h>
#include <torch/version.h>

#include <exception>
#include <string>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/listen_socket.h"
#include "common/status_macros.h"
#include "worker/rendezvous_address.h"

// PyTorch's LibTorch built with CUDA carries ProcessGroupNCCL (the build finds NCCL's and CUDA's
// headers in the wheel's nvidia/ packages); Debian's has neither.
#ifdef POLYTRAIN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;

// Runs a c10d call; an exception (Gloo's IoException, c10d's timeouts, a store's reply it cannot
// parse) becomes UNAVAILABLE.
template <typename Fn>
absl::Status Collective(const char* what, int rank, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("data-parallel ", what, " failed on rank ", rank,
                     " (a replica is gone, stalled, or sent what c10d cannot read): ",
                     e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("data-parallel ", what, " failed on rank ", rank,
                     " (a replica is gone, stalled, or sent what c10d cannot read): ", e.what()));
  }
}

class C10dConnection : public GangConnection {
 public:
  explicit C10dConnection(GangOptions options) : options_(std::move(options)) {}

  absl::Status Open();
  const std::string& rendezvous() const override { return rendezvous_; }
  absl::Status Join(const torch::Device& device) override;
  const char* backend() const override { return backend_; }
  bool in_own_process() const override { return false; }

  absl::Status ReserveBuckets(int64_t) override { return absl::OkStatus(); }
  torch::Tensor BucketMemory(int64_t, int64_t numel, torch::ScalarType dtype,
                             const torch::Device& device) override {
    return torch::empty({numel}, torch::TensorOptions().dtype(dtype).device(device));
  }
  absl::Status LaunchSum(const torch::Tensor& flat) override {
    return Collective("gradient all-reduce", options_.rank, [&] {
      std::vector<torch::Tensor> tensors{flat};
      launched_.push_back(AllReduce(tensors));  // sums, while backward goes on
    });
  }
  absl::Status WaitLaunched() override {
    std::vector<c10::intrusive_ptr<c10d::Work>> launched = std::move(launched_);
    launched_.clear();
    return Collective("gradient all-reduce", options_.rank, [&] {
      for (const c10::intrusive_ptr<c10d::Work>& work : launched) work->wait();
    });
  }
  absl::Status Sum(torch::Tensor& values) override {
    return Collective("metric all-reduce", options_.rank, [&] {
      // NCCL reduces tensors on the gang's GPU only: host values go there and back.
      std::vector<torch::Tensor> tensors{values.to(device_)};
      AllReduce(tensors)->wait();
      if (!tensors[0].is_same(values)) values.copy_(tensors[0]);
    });
  }
  absl::Status Broadcast(torch::Tensor& values) override {
    return Collective("broadcast", options_.rank, [&] {
      std::vector<torch::Tensor> io{values};
#ifdef POLYTRAIN_WITH_NCCL
      if (nccl_) {
        nccl_->broadcast(io)->wait();
        return;
      }
#endif
      gloo_->broadcast(io)->wait();
    });
  }

 private:
  // Until every rank has connected to the store (or the deadline, a cancel, the store lost).
  absl::Status AwaitPeers(Clock::time_point deadline);
  c10::intrusive_ptr<c10d::Work> AllReduce(std::vector<torch::Tensor>& tensors) {
#ifdef POLYTRAIN_WITH_NCCL
    if (nccl_) return nccl_->allreduce(tensors);
#endif
    return gloo_->allreduce(tensors);
  }

  const GangOptions options_;
  std::string rendezvous_;
  const char* backend_ = "none";
  torch::Device device_ = torch::kCPU;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  // Gloo's endpoint on this rank's host, made when the group opens: a host this machine cannot
  // bind to fails there, before the rank tells its peers it joined.
  c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> gloo_options_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#ifdef POLYTRAIN_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
  std::vector<c10::intrusive_ptr<c10d::Work>> launched_;
};

absl::Status C10dConnection::Open() {
  const GangOptions& o = options_;
  // A host that is not this machine's (a mistyped --advertise_address) is said here, as the
  // worker's: once a rank had joined, its peers waited for it where no cancel reaches (probe CA:
  // a healthy rank 0's worker then exited to end its stuck job). Not for a gang that may take
  // NCCL, which needs no Gloo endpoint: Join makes one there if the gang's tensors are on the CPU.
  std::string not_here;
#ifdef POLYTRAIN_WITH_NCCL
  const bool gloo_endpoint_now = !o.cuda;
#else
  const bool gloo_endpoint_now = true;
#endif
  if (gloo_endpoint_now) {
    try {
      gloo_options_ = c10d::ProcessGroupGloo::Options::create();
      gloo_options_->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
    } catch (const c10::Error& e) {
      not_here = e.what_without_backtrace();
    } catch (const std::exception& e) {
      not_here = e.what();
    }
  }
  if (!not_here.empty()) {
    // UNAVAILABLE, as a gang lost: the job is tried again on other workers.
    return absl::UnavailableError(
        absl::StrCat("rank ", o.rank, ": this worker's address for its peers, ", o.host,
                     " (its --advertise_address, or its address on the route to the "
                     "coordinator), is not one of this machine's: ",
                     not_here));
  }
  if (o.rank != 0) {
    absl::StatusOr<HostPort> rendezvous = SplitAddress(o.rendezvous);
    if (!rendezvous.ok()) return rendezvous.status();
    rendezvous_ = o.rendezvous;
    return absl::OkStatus();
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = 0;  // the system picks a free port: gangs on one worker never collide
  store_options.isServer = true;
  store_options.numWorkers = o.world_size;
  store_options.waitWorkers = false;
  store_options.timeout = o.timeout;
#if TORCH_VERSION_MAJOR >= 2
  // A socket on the rank's host alone, for the store to take over (masterListenFd): the store
  // then listens where the gang's ranks reach it, not on every interface, as LibTorch 1.13's
  // store does (it has no such option).
  absl::StatusOr<ListeningSocket> listener = ListenTcp(o.host, 0, SOMAXCONN);
  if (!listener.ok()) {
    return absl::UnavailableError(absl::StrCat("rank 0: its store cannot listen on ", o.host, ": ",
                                               listener.status().message()));
  }
  store_options.masterListenFd = listener->fd;  // the store owns it from here
  store_options.port = static_cast<uint16_t>(listener->port);
#endif
  POLYTRAIN_RETURN_IF_ERROR(Collective("rendezvous", 0, [&] {
    store_ = c10::make_intrusive<c10d::TCPStore>(o.host, store_options);
  }));
  rendezvous_ = WithPort(o.host, store_->getPort());
  return absl::OkStatus();
}

absl::Status C10dConnection::Join(const torch::Device& device) {
  const GangOptions& o = options_;
  device_ = device;
  const Clock::time_point deadline = Clock::now() + o.timeout;
  if (o.rank != 0) {
    const HostPort rendezvous = *SplitAddress(rendezvous_);
    POLYTRAIN_RETURN_IF_ERROR(
        AwaitListening(rendezvous, rendezvous_, o.rank, deadline, o.timeout, o.cancel));
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(rendezvous.port);
    store_options.isServer = false;
    store_options.numWorkers = o.world_size;
    store_options.timeout = o.timeout;
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(rendezvous.host, store_options);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("rank ", o.rank, " could not reach rank 0's rendezvous at ", rendezvous_,
                       " within ", o.timeout.count() / 1000.0, " s: ", e.what()));
    }
  }
  POLYTRAIN_RETURN_IF_ERROR(AwaitPeers(deadline));
  return Collective("join", o.rank, [&] {
#ifdef POLYTRAIN_WITH_NCCL
    if (device.is_cuda()) {
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = o.timeout;
      nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, o.rank, o.world_size, nccl);
      backend_ = "nccl";
      return;
    }
#endif
    (void)device;  // CPU tensors, or CUDA ones without NCCL (Gloo copies them through the host)
    if (!gloo_options_) {  // a gang that might have taken NCCL (Open made none)
      gloo_options_ = c10d::ProcessGroupGloo::Options::create();
      gloo_options_->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
    }
    gloo_options_->timeout = o.timeout;
    gloo_ =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store_, o.rank, o.world_size, gloo_options_);
    backend_ = "gloo";
  });
}

absl::Status C10dConnection::AwaitPeers(Clock::time_point deadline) {
  const GangOptions& o = options_;
  // Each rank marks itself here in the store, and waits for every mark, in short looks: building
  // the process group would wait for missing ranks until the timeout, deaf to a cancel.
  auto key = [](int rank) { return absl::StrCat("polytrain/joined/", rank); };
  std::vector<std::string> everyone;
  for (int r = 0; r < o.world_size; ++r) everyone.push_back(key(r));
  while (true) {
    bool all_here = false;
    const absl::Status looked = Collective("rendezvous", o.rank, [&] {
      if (!store_->check({key(o.rank)})) store_->set(key(o.rank), {1});
      all_here = store_->check(everyone);
    });
    if (!looked.ok()) return looked;  // rank 0's store is gone
    if (all_here) return absl::OkStatus();
    if (Cancelled(o.cancel)) return absl::CancelledError("cancelled while joining the gang");
    if (Clock::now() >= deadline) {
      std::vector<int> missing;
      for (int r = 0; r < o.world_size; ++r) {
        bool here = true;
        (void)Collective("rendezvous", o.rank, [&] { here = store_->check({key(r)}); });
        if (!here) missing.push_back(r);
      }
      return absl::UnavailableError(
          absl::StrCat("rank ", o.rank, ": rank(s) ", absl::StrJoin(missing, ", "),
                       " did not join within ", o.timeout.count() / 1000.0, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GangConnection>> OpenC10dConnection(const GangOptions& options) {
  auto connection = std::make_unique<C10dConnection>(options);
  POLYTRAIN_RETURN_IF_ERROR(connection->Open());
  return std::unique_ptr<GangConnection>(std::move(connection));
}

bool C10dHasNccl() {
#ifdef POLYTRAIN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace polytrain
