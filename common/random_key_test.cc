#include "common/random_key.h"

#include <set>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(RandomKeyTest, KeysAreHexOfTheLengthAskedAndNeverRepeat) {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = RandomHexKey(16);
    ASSERT_EQ(key.size(), 32u);
    EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 1000u);
}

}  // namespace
}  // namespace polytrain
