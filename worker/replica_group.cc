#include "worker/replica_group.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/c10d_connection.h"

namespace polytrain {

using Clock = std::chrono::steady_clock;

struct ReplicaGroup::Impl {
  struct Bucket {
    std::vector<torch::Tensor> params;
    int64_t bytes = 0;
    int64_t offset = 0;  // into the connection's bucket memory
    int64_t numel = 0;   // with the first bucket's extra element
    int ready = 0;       // parameters whose gradient is final this step
    torch::Tensor flat;
  };

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
};

bool ReplicaGroup::NcclAvailable() { return C10dHasNccl(); }

ReplicaGroup::ReplicaGroup(Options options, std::unique_ptr<GangConnection> connection)
    : options_(std::move(options)),
      connection_(std::move(connection)),
      impl_(std::make_unique<Impl>()) {}

ReplicaGroup::~ReplicaGroup() = default;

void ReplicaGroup::DisableFlightRecorder() { setenv("TORCH_FR_BUFFER_SIZE", "0", /*overwrite=*/0); }

absl::StatusOr<std::unique_ptr<ReplicaGroup>> ReplicaGroup::Open(Options options) {
  if (options.world_size < 2 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ",
                                                   options.world_size, " is not a replica"));
  }
  absl::StatusOr<std::unique_ptr<GangConnection>> connection = OpenGangConnection(options);
  if (!connection.ok()) return connection.status();
  return std::unique_ptr<ReplicaGroup>(
      new ReplicaGroup(std::move(options), *std::move(connection)));
}

absl::Status ReplicaGroup::Join(const torch::Device& device) {
  device_ = device;
  return connection_->Join(device);
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
  // Each bucket's place in the connection's memory; the first carries the step's extra value.
  int64_t offset = 0;
  for (size_t b = 0; b < impl.buckets.size(); ++b) {
    Impl::Bucket& bucket = impl.buckets[b];
    for (const torch::Tensor& p : bucket.params) bucket.numel += p.numel();
    if (b == 0) ++bucket.numel;
    bucket.offset = offset;
    const int64_t size = bucket.numel * static_cast<int64_t>(bucket.params[0].element_size());
    offset += (size + 63) / 64 * 64;
  }
  return connection_->ReserveBuckets(offset);
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
    try {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> pieces;
      for (const torch::Tensor& p : bucket.params) pieces.push_back(p.grad().reshape({-1}));
      if (first) pieces.push_back(impl.extra.reshape({1}).to(pieces[0].dtype()));
      const torch::Tensor& lead = bucket.params[0];
      bucket.flat =
          connection_->BucketMemory(bucket.offset, bucket.numel, lead.scalar_type(), lead.device());
      torch::cat_out(bucket.flat, pieces).mul_(impl.weight);
      gradient_bytes_ += bucket.flat.nbytes();
      impl.failure = connection_->LaunchSum(bucket.flat);  // sums, while backward goes on
    } catch (const std::exception& e) {
      impl.failure = absl::InternalError(absl::StrCat("a gradient bucket: ", e.what()));
    }
  }
  return launched;
}

void ReplicaGroup::BeginStep(double weight, const torch::Tensor& extra) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (Impl::Bucket& bucket : impl_->buckets) {
    bucket.ready = 0;
    bucket.flat = torch::Tensor();
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
  // Every launched sum is waited for, also after a failure: the next step starts afresh.
  const absl::Status waited = connection_->WaitLaunched();
  POLYTRAIN_RETURN_IF_ERROR(impl.failure);
  POLYTRAIN_RETURN_IF_ERROR(waited);
  torch::NoGradGuard no_grad;
  torch::Tensor extra_sum;
  for (size_t b = 0; b < impl.buckets.size(); ++b) {
    Impl::Bucket& bucket = impl.buckets[b];
    int64_t offset = 0;
    for (const torch::Tensor& p : bucket.params) {
      p.grad().copy_(bucket.flat.narrow(0, offset, p.numel()).view_as(p.grad()));
      offset += p.numel();
    }
    // A copy: the bucket's memory may be the connection's, remapped when it grows.
    if (b == 0) extra_sum = bucket.flat.narrow(0, offset, 1).reshape({}).clone();
    bucket.flat = torch::Tensor();
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
  if (values.is_contiguous()) return connection_->Sum(values);
  torch::Tensor contiguous = values.contiguous();
  POLYTRAIN_RETURN_IF_ERROR(connection_->Sum(contiguous));
  values.copy_(contiguous);
  return absl::OkStatus();
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
  torch::NoGradGuard no_grad;
  for (const torch::Tensor& t : tensors) {
    // Gloo broadcasts contiguous tensors (a parameter may be a view), and no bool ones before
    // PyTorch 2.x (a model's mask buffer goes as bytes).
    const bool as_bytes = t.scalar_type() == torch::kBool;
    torch::Tensor io = as_bytes ? t.detach().to(torch::kUInt8).contiguous()
                                : (t.is_contiguous() ? t.detach() : t.detach().contiguous());
    POLYTRAIN_RETURN_IF_ERROR(connection_->Broadcast(io));
    if (as_bytes || !t.is_contiguous()) t.detach().copy_(io);
  }
  return absl::OkStatus();
}

}  // namespace polytrain
