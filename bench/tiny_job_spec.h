// The tiny synthetic job the load generators submit: a 2-class MLP on 10 samples, one epoch,
// so that what is measured is the service, not training.
#ifndef POLYTRAIN_BENCH_TINY_JOB_SPEC_H_
#define POLYTRAIN_BENCH_TINY_JOB_SPEC_H_

#include <string>

#include "google/protobuf/text_format.h"
#include "polytrain/v1/job.pb.h"

namespace polytrain {

inline polytrain::v1::JobSpec TinyJobSpec(const std::string& name) {
  polytrain::v1::JobSpec spec;
  google::protobuf::TextFormat::ParseFromString(R"(
    model { mlp {} }
    dataset { synthetic { classes: 2 features: 2 train_samples: 10 test_samples: 10 } }
    loss { poly1 { epsilon: 1 } }
    optimizer { sgd {} learning_rate: 0.1 }
    epochs: 1
    batch_size: 10
  )",
                                                &spec);
  spec.set_name(name);
  return spec;
}

}  // namespace polytrain

#endif  // POLYTRAIN_BENCH_TINY_JOB_SPEC_H_
