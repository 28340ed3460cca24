#include "common/short_list.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(ShortListTest, NamesTheFirstFewAndCountsTheRest) {
  const std::vector<std::string> ranks = {"rank 1", "rank 2", "rank 3"};
  EXPECT_EQ(ShortList(ranks, 4), "rank 1, rank 2, rank 3");
  EXPECT_EQ(ShortList(ranks, 3), "rank 1, rank 2, rank 3");
  EXPECT_EQ(ShortList(ranks, 2), "rank 1, rank 2 and 1 more");
  EXPECT_EQ(ShortList(ranks, 0), " and 3 more");
  EXPECT_EQ(ShortList(ranks, 1, "; "), "rank 1; and 2 more");
  EXPECT_EQ(ShortList({}, 4), "");
}

}  // namespace
}  // namespace polytrain
