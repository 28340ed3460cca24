#include "worker/replica_group.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// Runs a c10d call; an exception (Gloo's IoException, c10d's timeouts) becomes UNAVAILABLE.
template <typename Fn>
absl::Status Collective(const char* what, int rank, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("data-parallel ", what, " failed on rank ", rank,
                     " (a replica is gone or stalled): ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("data-parallel ", what, " failed on rank ", rank,
                                               " (a replica is gone or stalled): ", e.what()));
  }
}

}  // namespace

struct ReplicaGroup::Impl {
  struct Bucket {
    std::vector<torch::Tensor> params;
    int64_t bytes = 0;
    int ready = 0;  // parameters whose gradient is final this step
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };

  c10::intrusive_ptr<c10d::TCPStore> store;
  // Gloo's endpoint on this rank's host, made when the group opens: a host this machine cannot
  // bind to fails there, before the rank tells its peers it joined.
  c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> gloo_options;
  // The gradient buckets and the hooks' state; `mu` guards them against the autograd threads.
  mutable std::mutex mu;
  std::vector<Bucket> buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  size_t next_launch = 0;
  bool in_step = false;
  double weight = 1.0;
  torch::Tensor extra;
  absl::Status failure;
  int64_t launched_during_backward = 0;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef POLYTRAIN_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // The collectives of whichever process group the gang joined.
  c10::intrusive_ptr<c10d::Work> AllReduce(std::vector<torch::Tensor>& tensors) {
#ifdef POLYTRAIN_WITH_NCCL
    if (nccl) return nccl->allreduce(tensors);
#endif
    return gloo->allreduce(tensors);
  }
  c10::intrusive_ptr<c10d::Work> Broadcast(std::vector<torch::Tensor>& tensors) {
#ifdef POLYTRAIN_WITH_NCCL
    if (nccl) return nccl->broadcast(tensors);
#endif
    return gloo->broadcast(tensors);
  }
};

bool ReplicaGroup::NcclAvailable() {
#ifdef POLYTRAIN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

ReplicaGroup::ReplicaGroup(Options options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

ReplicaGroup::~ReplicaGroup() = default;

void ReplicaGroup::DisableFlightRecorder() { setenv("TORCH_FR_BUFFER_SIZE", "0", /*overwrite=*/0); }

absl::StatusOr<std::unique_ptr<ReplicaGroup>> ReplicaGroup::Open(Options options) {
  if (options.world_size < 2 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ",
                                                   options.world_size, " is not a replica"));
  }
  std::unique_ptr<ReplicaGroup> group(new ReplicaGroup(std::move(options)));
  const Options& o = group->options_;
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
      group->impl_->gloo_options = c10d::ProcessGroupGloo::Options::create();
      group->impl_->gloo_options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
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
    group->rendezvous_ = o.rendezvous;
    return group;
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = 0;  // the system picks a free port: gangs on one worker never collide
  store_options.isServer = true;
  store_options.numWorkers = o.world_size;
  store_options.waitWorkers = false;
  store_options.timeout = o.timeout;
  absl::Status opened = Collective("rendezvous", 0, [&] {
    group->impl_->store = c10::make_intrusive<c10d::TCPStore>(o.host, store_options);
  });
  if (!opened.ok()) return opened;
  group->rendezvous_ = WithPort(o.host, group->impl_->store->getPort());
  return group;
}

absl::Status ReplicaGroup::Join(const torch::Device& device) {
  const Options& o = options_;
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
      impl_->store = c10::make_intrusive<c10d::TCPStore>(rendezvous.host, store_options);
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
      impl_->nccl =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, o.rank, o.world_size, nccl);
      backend_ = "nccl";
      return;
    }
#endif
    (void)device;  // CPU tensors, or CUDA ones without NCCL (Gloo copies them through the host)
    if (!impl_->gloo_options) {  // a gang that might have taken NCCL (Open made none)
      impl_->gloo_options = c10d::ProcessGroupGloo::Options::create();
      impl_->gloo_options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
    }
    impl_->gloo_options->timeout = o.timeout;
    impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, o.rank, o.world_size,
                                                              impl_->gloo_options);
    backend_ = "gloo";
  });
}

absl::Status ReplicaGroup::AwaitPeers(Clock::time_point deadline) {
  const Options& o = options_;
  // Each rank marks itself here in the store, and waits for every mark, in short looks: building
  // the process group would wait for missing ranks until the timeout, deaf to a cancel.
  auto key = [](int rank) { return absl::StrCat("polytrain/joined/", rank); };
  std::vector<std::string> everyone;
  for (int r = 0; r < o.world_size; ++r) everyone.push_back(key(r));
  while (true) {
    bool all_here = false;
    const absl::Status looked = Collective("rendezvous", o.rank, [&] {
      if (!impl_->store->check({key(o.rank)})) impl_->store->set(key(o.rank), {1});
      all_here = impl_->store->check(everyone);
    });
    if (!looked.ok()) return looked;  // rank 0's store is gone
    if (all_here) return absl::OkStatus();
    if (Cancelled(o.cancel)) return absl::CancelledError("cancelled while joining the gang");
    if (Clock::now() >= deadline) {
      std::vector<int> missing;
      for (int r = 0; r < o.world_size; ++r) {
        bool here = true;
        (void)Collective("rendezvous", o.rank, [&] { here = impl_->store->check({key(r)}); });
        if (!here) missing.push_back(r);
      }
      return absl::UnavailableError(
          absl::StrCat("rank ", o.rank, ": rank(s) ", absl::StrJoin(missing, ", "),
                       " did not join within ", o.timeout.count() / 1000.0, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

// Calls `ready` after autograd accumulated a parameter's gradient for this backward pass.
class GradientReadyHook : public torch::autograd::FunctionPostHook {
 public:
  explicit GradientReadyHook(std::function<void()> ready) : ready_(std::move(ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    ready_();
    return outputs;
  }

 private:
  std::function<void()> ready_;
};

}  // namespace

absl::Status ReplicaGroup::AttachTo(const std::vector<torch::Tensor>& parameters) {
  Impl& impl = *impl_;
  if (!impl.buckets.empty()) return absl::FailedPreconditionError("attached already");
  // Buckets in reverse order of the parameters, as backward produces their gradients, each of
  // one dtype and at most bucket_bytes.
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
    const torch::Tensor& p = *it;
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (impl.buckets.empty() || impl.buckets.back().bytes + bytes > options_.bucket_bytes ||
        impl.buckets.back().params.front().scalar_type() != p.scalar_type()) {
      impl.buckets.emplace_back();
    }
    impl.buckets.back().params.push_back(p);
    impl.buckets.back().bytes += bytes;
    const size_t bucket = impl.buckets.size() - 1;
    // Kept alive here: the parameter holds its accumulator weakly, and the next backward pass
    // would make a new one, without the hook.
    std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(p);
    if (accumulator == nullptr) {
      return absl::InvalidArgumentError("a parameter that is not a leaf requiring a gradient");
    }
    accumulator->add_post_hook(std::make_unique<GradientReadyHook>([this, bucket] {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (!impl_->in_step) return;
      ++impl_->buckets[bucket].ready;
      if (LaunchReadyLocked()) ++impl_->launched_during_backward;
    }));
    impl.accumulators.push_back(std::move(accumulator));
  }
  if (impl.buckets.empty()) return absl::InvalidArgumentError("the model has no parameters");
  return absl::OkStatus();
}

bool ReplicaGroup::LaunchReadyLocked() {
  Impl& impl = *impl_;
  bool launched = false;
  // In bucket order on every rank: Gloo matches collectives by the order they are issued.
  while (impl.next_launch < impl.buckets.size() &&
         impl.buckets[impl.next_launch].ready ==
             static_cast<int>(impl.buckets[impl.next_launch].params.size())) {
    Impl::Bucket& bucket = impl.buckets[impl.next_launch];
    const bool first = impl.next_launch == 0;
    ++impl.next_launch;
    launched = true;
    if (!impl.failure.ok()) continue;
    impl.failure = Collective("gradient all-reduce", options_.rank, [&] {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> pieces;
      for (const torch::Tensor& p : bucket.params) pieces.push_back(p.grad().reshape({-1}));
      if (first) pieces.push_back(impl.extra.reshape({1}).to(pieces[0].dtype()));
      bucket.flat = torch::cat(pieces).mul_(impl.weight);
      gradient_bytes_ += bucket.flat.nbytes();
      std::vector<torch::Tensor> tensors{bucket.flat};
      bucket.work = impl.AllReduce(tensors);  // sums, while backward goes on
    });
  }
  return launched;
}

void ReplicaGroup::BeginStep(double weight, const torch::Tensor& extra) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (Impl::Bucket& bucket : impl_->buckets) {
    bucket.ready = 0;
    bucket.flat = torch::Tensor();
    bucket.work.reset();
  }
  impl_->next_launch = 0;
  impl_->failure = absl::OkStatus();
  impl_->weight = weight;
  impl_->extra = extra.detach();
  impl_->in_step = true;
}

absl::StatusOr<torch::Tensor> ReplicaGroup::FinishStep() {
  const Clock::time_point start = Clock::now();
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    // What backward did not reach (a rank with no rows, parameters outside this step's graph)
    // counts as zeros; the buckets not launched yet go now, in order.
    for (Impl::Bucket& bucket : impl.buckets) {
      for (const torch::Tensor& p : bucket.params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      }
      bucket.ready = static_cast<int>(bucket.params.size());
    }
    LaunchReadyLocked();
    impl.in_step = false;
  }
  POLYTRAIN_RETURN_IF_ERROR(impl.failure);
  absl::Status waited = Collective("gradient all-reduce", options_.rank, [&] {
    for (Impl::Bucket& bucket : impl.buckets) bucket.work->wait();
  });
  if (!waited.ok()) return waited;
  torch::NoGradGuard no_grad;
  torch::Tensor extra_sum;
  for (size_t b = 0; b < impl.buckets.size(); ++b) {
    Impl::Bucket& bucket = impl.buckets[b];
    int64_t offset = 0;
    for (const torch::Tensor& p : bucket.params) {
      p.grad().copy_(bucket.flat.narrow(0, offset, p.numel()).view_as(p.grad()));
      offset += p.numel();
    }
    if (b == 0) extra_sum = bucket.flat.narrow(0, offset, 1).reshape({});
  }
  gradient_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  return extra_sum;
}

size_t ReplicaGroup::buckets() const { return impl_->buckets.size(); }

int64_t ReplicaGroup::buckets_launched_during_backward() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->launched_during_backward;
}

absl::Status ReplicaGroup::Sum(torch::Tensor& values) {
  return Collective("metric all-reduce", options_.rank, [&] {
    // NCCL reduces tensors on the gang's GPU only: host values go there and back.
    std::vector<torch::Tensor> tensors{values.to(device_)};
    impl_->AllReduce(tensors)->wait();
    if (!tensors[0].is_same(values)) values.copy_(tensors[0]);
  });
}

absl::Status ReplicaGroup::StartTogether(int64_t step, const std::vector<torch::Tensor>& state) {
  // On the gang's device: NCCL broadcasts CUDA tensors only.
  const torch::Tensor lead_step =
      torch::tensor({static_cast<double>(step)}, torch::kDouble).to(device_);
  POLYTRAIN_RETURN_IF_ERROR(Broadcast({lead_step}));
  const double step_of_rank_zero = lead_step.item<double>();
  torch::Tensor differing =
      torch::tensor({step_of_rank_zero != static_cast<double>(step) ? 1.0 : 0.0}, torch::kDouble);
  POLYTRAIN_RETURN_IF_ERROR(Sum(differing));
  if (differing.item<double>() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rank ", rank(), " starts at step ", step, ", rank 0 at step ",
        static_cast<int64_t>(step_of_rank_zero), "; ", static_cast<int>(differing.item<double>()),
        " of ", world_size(), " replicas differ from rank 0 (their checkpoints differ)"));
  }
  return Broadcast(state);
}

absl::Status ReplicaGroup::Broadcast(const std::vector<torch::Tensor>& tensors) {
  return Collective("broadcast", options_.rank, [&] {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& t : tensors) {
      // Gloo broadcasts contiguous tensors; a parameter may be a view.
      std::vector<torch::Tensor> io{t.is_contiguous() ? t.detach() : t.detach().contiguous()};
      impl_->Broadcast(io)->wait();
      if (!t.is_contiguous()) t.detach().copy_(io[0]);
    }
  });
}

}  // namespace polytrain
