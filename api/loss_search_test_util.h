// What the loss-search tests share: a search request on a small base, a successive-halving
// search over poly1's epsilon, and the error a request is refused with.
#ifndef POLYTRAIN_API_LOSS_SEARCH_TEST_UTIL_H_
#define POLYTRAIN_API_LOSS_SEARCH_TEST_UTIL_H_

#include <string>

#include "api/client_requests.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "polytrain/v1/coordinator.pb.h"

namespace polytrain::loss_search_test {

inline polytrain::v1::SubmitSweepRequest Search(const std::string& text) {
  polytrain::v1::SubmitSweepRequest request;
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(
          R"(base {
           name: "base"
           model { mlp {} }
           dataset { synthetic { classes: 2 features: 2 train_samples: 4 test_samples: 4 } }
           optimizer { sgd {} learning_rate: 0.1 }
           epochs: 9
           batch_size: 2
         })" + text,
          &request))
      << text;
  return request;
}

inline constexpr char kHalving[] = R"(
  search {
    strategy: STRATEGY_SUCCESSIVE_HALVING
    loss { poly1 {} }
    ranges { field: "poly1.epsilon" min: -1 max: 10 }
    trials: 12
    draw_seed: 7
    min_resource: 1
  })";

inline std::string Error(const polytrain::v1::SubmitSweepRequest& request) {
  return std::string(ValidateSubmitSweepRequest(request).status().message());
}

}  // namespace polytrain::loss_search_test

#endif  // POLYTRAIN_API_LOSS_SEARCH_TEST_UTIL_H_
