#include "worker/replica_share.h"

namespace polytrain {

ReplicaShare::ReplicaShare(const loss::LossConfig& config, const torch::Tensor& labels,
                           int64_t classes) {
  const torch::Tensor host = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* label = host.data_ptr<int64_t>();
  row_weight_.resize(host.numel());
  for (int64_t i = 0; i < host.numel(); ++i) {
    if (config.activation == loss::Activation::kSigmoid) {
      // A row is its one-hot target: classes elements, one 1 and the rest 0; ignore_index
      // drops the elements equal to it.
      double kept = static_cast<double>(classes);
      if (config.ignore_index == 1) kept = classes - 1;
      if (config.ignore_index == 0) kept = 1;
      row_weight_[i] = kept;
    } else if (config.ignore_index && label[i] == *config.ignore_index) {
      row_weight_[i] = 0;
    } else {
      row_weight_[i] = config.class_weights.empty() ? 1.0 : config.class_weights[label[i]];
    }
  }
}

double ReplicaShare::Of(const torch::Tensor& order, int64_t begin, int64_t len, int64_t local_begin,
                        int64_t local_len) const {
  const int64_t* row = order.data_ptr<int64_t>() + begin;
  double all = 0, local = 0;
  for (int64_t i = 0; i < len; ++i) {
    const double w = row_weight_[row[i]];
    all += w;
    if (i >= local_begin && i < local_begin + local_len) local += w;
  }
  return all > 0 ? local / all : 0.0;
}

}  // namespace polytrain
