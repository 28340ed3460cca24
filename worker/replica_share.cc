#include "worker/replica_share.h"

#include "worker/loss_denominator.h"

namespace polytrain {

ReplicaShare::ReplicaShare(const loss::LossConfig& config, const torch::Tensor& labels,
                           int64_t classes) {
  const torch::Tensor host = MeanDenominators(config, labels, classes).to(torch::kCPU).contiguous();
  row_weight_.assign(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

ReplicaShare::Batch ReplicaShare::Of(const torch::Tensor& order, int64_t begin, int64_t len,
                                     int64_t local_begin, int64_t local_len) const {
  const int64_t* row = order.data_ptr<int64_t>() + begin;
  double all = 0, local = 0;
  for (int64_t i = 0; i < len; ++i) {
    const double w = row_weight_[row[i]];
    all += w;
    if (i >= local_begin && i < local_begin + local_len) local += w;
  }
  Batch batch;
  batch.share = all > 0 ? local / all : 0.0;
  batch.denominator = all;
  return batch;
}

}  // namespace polytrain
