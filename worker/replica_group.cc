#include "worker/replica_group.h"

#include <exception>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// PyTorch's LibTorch built with CUDA carries ProcessGroupNCCL (the build finds NCCL's and CUDA's
// headers in the wheel's nvidia/ packages); Debian's has neither.
#ifdef POLYTRAIN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace polytrain {
namespace {

using Clock = std::chrono::steady_clock;

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port" or "[v6]:port" (already checked by the coordinator's validation).
absl::StatusOr<HostPort> SplitAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  HostPort out;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &out.port) ||
      out.port < 1 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous: expected host:port, got '", address.substr(0, 64), "'"));
  }
  out.host = address.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

std::string WithPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

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
  c10::intrusive_ptr<c10d::TCPStore> store;
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

absl::StatusOr<std::unique_ptr<ReplicaGroup>> ReplicaGroup::Open(Options options) {
  if (options.world_size < 2 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ",
                                                   options.world_size, " is not a replica"));
  }
  std::unique_ptr<ReplicaGroup> group(new ReplicaGroup(std::move(options)));
  const Options& o = group->options_;
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
  if (o.rank != 0) {
    const HostPort rendezvous = *SplitAddress(rendezvous_);
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
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.host));
    gloo->timeout = o.timeout;
    impl_->gloo =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, o.rank, o.world_size, gloo);
    backend_ = "gloo";
  });
}

absl::StatusOr<torch::Tensor> ReplicaGroup::SumGradients(
    const std::vector<torch::Tensor>& parameters, double weight, const torch::Tensor& extra) {
  const Clock::time_point start = Clock::now();
  // Buckets of consecutive parameters of one dtype, each flattened into one tensor.
  struct Bucket {
    std::vector<torch::Tensor> grads;
    torch::Tensor flat;
    int64_t bytes = 0;
  };
  std::vector<Bucket> buckets;
  for (const torch::Tensor& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    const torch::Tensor& grad = p.grad();
    const int64_t bytes = grad.numel() * static_cast<int64_t>(grad.element_size());
    if (buckets.empty() || buckets.back().bytes + bytes > kBucketBytes ||
        buckets.back().grads.front().scalar_type() != grad.scalar_type()) {
      buckets.emplace_back();
    }
    buckets.back().grads.push_back(grad);
    buckets.back().bytes += bytes;
  }
  if (buckets.empty()) return absl::InvalidArgumentError("the model has no parameters");
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  absl::Status launched = Collective("gradient all-reduce", options_.rank, [&] {
    for (size_t b = 0; b < buckets.size(); ++b) {
      std::vector<torch::Tensor> pieces;
      for (const torch::Tensor& grad : buckets[b].grads) pieces.push_back(grad.reshape({-1}));
      if (b == 0) pieces.push_back(extra.detach().reshape({1}).to(pieces[0].dtype()));
      buckets[b].flat = torch::cat(pieces).mul_(weight);
      gradient_bytes_ += buckets[b].flat.nbytes();
      std::vector<torch::Tensor> tensors{buckets[b].flat};
      pending.push_back(impl_->AllReduce(tensors));  // sums; runs beside the next bucket
    }
    for (auto& work : pending) work->wait();
  });
  if (!launched.ok()) return launched;
  torch::Tensor extra_sum;
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (const torch::Tensor& grad : buckets[b].grads) {
      grad.copy_(buckets[b].flat.narrow(0, offset, grad.numel()).view_as(grad));
      offset += grad.numel();
    }
    if (b == 0) extra_sum = buckets[0].flat.narrow(0, offset, 1).reshape({});
  }
  gradient_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  return extra_sum;
}

absl::Status ReplicaGroup::Sum(torch::Tensor& values) {
  return Collective("metric all-reduce", options_.rank, [&] {
    // NCCL reduces tensors on the gang's GPU only: host values go there and back.
    std::vector<torch::Tensor> tensors{values.to(device_)};
    impl_->AllReduce(tensors)->wait();
    if (!tensors[0].is_same(values)) values.copy_(tensors[0]);
  });
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
