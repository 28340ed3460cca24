#include "worker/augmentation.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/validation.h"

namespace polytrain {
namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

bool IsImage(const std::vector<int64_t>& sample_shape) {
  return sample_shape.size() == 2 || sample_shape.size() == 3;
}

}  // namespace

absl::Status Normalize(const polytrain::v1::Normalization& normalize,
                       const std::vector<int64_t>& sample_shape, const std::string& field,
                       const std::vector<torch::Tensor*>& splits) {
  const int64_t values = normalize.mean_size();
  const int64_t channels = sample_shape.size() == 3 ? sample_shape[0] : 1;
  if (values != 1 && values != channels) {
    return InvalidField(FieldPath(field, "mean"),
                        absl::StrCat("has ", values, " values, but samples ", Shape(sample_shape),
                                     " have ", channels,
                                     " channel(s): give one per channel, or "
                                     "one"));
  }
  // [1, C, 1, 1]: broadcast over the batch and the pixels of each channel.
  std::vector<int64_t> view(sample_shape.size() + 1, 1);
  if (values > 1) view[1] = values;
  const torch::Tensor mean =
      torch::tensor(std::vector<double>(normalize.mean().begin(), normalize.mean().end()),
                    torch::kDouble)
          .view(view);
  const torch::Tensor std =
      torch::tensor(std::vector<double>(normalize.std().begin(), normalize.std().end()),
                    torch::kDouble)
          .view(view);
  for (torch::Tensor* x : splits) {
    if (!x->defined() || x->numel() == 0) continue;
    x->sub_(mean.to(x->dtype())).div_(std.to(x->dtype()));
    // A tiny std can carry finite values past float32's range: say so here, not as a diverged
    // loss at step 1.
    if (!std::isfinite(x->sum(torch::kDouble).item<double>())) {
      return InvalidField(FieldPath(field, "std"),
                          "normalizing makes some values infinite: the std is too small for "
                          "these samples");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAugmentation(const polytrain::v1::Augmentation& augment,
                               const std::vector<int64_t>& sample_shape, const std::string& field) {
  if (!Augments(augment) || IsImage(sample_shape)) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("needs image samples ([H, W] or [C, H, W]); these are ",
                                          Shape(sample_shape)));
}

bool Augments(const polytrain::v1::Augmentation& augment) {
  return augment.random_crop_padding() > 0 || augment.horizontal_flip();
}

torch::Tensor AugmentBatch(const torch::Tensor& x, const polytrain::v1::Augmentation& augment,
                           uint64_t seed, int64_t step, int64_t first_row, int64_t global_rows) {
  // Its own generator per step (a different stream from the epoch order's).
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(
      (seed ^ 0xA5A5A5A5A5A5A5A5ULL) * 0xD6E8FEB86659FD93ULL + static_cast<uint64_t>(step));
  const int64_t batch = x.size(0), height = x.size(-2), width = x.size(-1);
  if (global_rows < 0) global_rows = batch;
  // Drawn for the whole global batch, then this slice's rows: a replica augments its rows as a
  // single trainer would have.
  const auto draw_rows = [&](const torch::Tensor& draws) {
    return global_rows == batch && first_row == 0 ? draws : draws.narrow(0, first_row, batch);
  };
  // [B, M, H, W]: whatever lies between the batch and the pixels (channels) folded into M.
  torch::Tensor out = x.reshape({batch, -1, height, width});
  const int64_t p = augment.random_crop_padding();
  if (p > 0) {
    const torch::Tensor padded = torch::constant_pad_nd(out, {p, p, p, p}, 0);
    const auto long_on_device = torch::TensorOptions().dtype(torch::kLong).device(x.device());
    const torch::Tensor dy =
        draw_rows(torch::randint(0, 2 * p + 1, {global_rows}, generator, torch::kLong))
            .to(x.device(), /*non_blocking=*/true);
    const torch::Tensor dx =
        draw_rows(torch::randint(0, 2 * p + 1, {global_rows}, generator, torch::kLong))
            .to(x.device(), /*non_blocking=*/true);
    const int64_t middle = out.size(1);
    // Rows dy..dy+H-1 of each sample, then columns dx..dx+W-1: two gathers, no loop.
    const torch::Tensor rows = (dy.unsqueeze(1) + torch::arange(height, long_on_device))
                                   .view({batch, 1, height, 1})
                                   .expand({batch, middle, height, width + 2 * p});
    const torch::Tensor cols = (dx.unsqueeze(1) + torch::arange(width, long_on_device))
                                   .view({batch, 1, 1, width})
                                   .expand({batch, middle, height, width});
    out = padded.gather(2, rows).gather(3, cols);
  }
  if (augment.horizontal_flip()) {
    const torch::Tensor flip = (draw_rows(torch::rand({global_rows}, generator)) < 0.5)
                                   .to(x.device(), /*non_blocking=*/true)
                                   .view({batch, 1, 1, 1});
    out = torch::where(flip, out.flip({3}), out);
  }
  return out.reshape(x.sizes());
}

}  // namespace polytrain
