// The part of a data-parallel step's mean loss that one rank's rows carry. A REDUCTION_MEAN
// loss divides by its batch's denominator (softmax: the target classes' weights, ignored rows
// excluded; sigmoid: the elements not ignored), so a rank's own mean weighted by its share of
// that denominator, summed over ranks, is the whole batch's mean as one worker computes it.
// Weighting by row count instead is right only without class weights and ignore_index.
#ifndef POLYTRAIN_WORKER_REPLICA_SHARE_H_
#define POLYTRAIN_WORKER_REPLICA_SHARE_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "loss/core/loss_config.h"

namespace polytrain {

class ReplicaShare {
 public:
  struct Batch {
    // Of the rank's rows: what they carry of the batch's mean; 0 when the batch's denominator
    // is 0 (every row ignored: the loss is 0 with zero gradient).
    double share = 0;
    // The whole batch's denominator: what its mean divided by, and what it weighs in the mean
    // of its logging window.
    double denominator = 0;
  };

  // `labels`: the training split's class indices (any device; read once, on the host).
  ReplicaShare(const loss::LossConfig& config, const torch::Tensor& labels, int64_t classes);

  // The batch of rows [begin, begin + len) of `order` (the epoch's order, on the host) whose
  // rows [local_begin, local_begin + local_len) are this rank's: one pass over the rows.
  Batch Of(const torch::Tensor& order, int64_t begin, int64_t len, int64_t local_begin,
           int64_t local_len) const;

 private:
  // What each training row adds to the denominator.
  std::vector<double> row_weight_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_WORKER_REPLICA_SHARE_H_
