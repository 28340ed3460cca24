#include "common/pickle_nesting.h"

#include <string>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

using std::string_literals::operator""s;  // literals with NUL bytes in them

std::string Proto2(const std::string& body) { return std::string("\x80\x02", 2) + body + "."; }

// A 4-byte little-endian memo index.
std::string Index(uint32_t i) {
  std::string out;
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>(i >> (8 * b) & 0xff));
  return out;
}

TEST(PickleNestingTest, WhatTorchSaveWritesNestsAFewLevels) {
  EXPECT_EQ(PickleNesting(Proto2("N")), 0);
  EXPECT_EQ(PickleNesting(Proto2("}q\x00"s)), 1);  // an empty dict
  // {'x': tensor}: a dict holding a rebuilt tensor (REDUCE of a global and a tuple holding a
  // persistent id, itself a tuple).
  const std::string tensor =
      "ctorch._utils\n_rebuild_tensor_v2\n(X\x07\x00\x00\x00storage(K\x00tQK\x00tR"s;
  EXPECT_EQ(PickleNesting(Proto2("}(X\x01\x00\x00\x00x"s + tensor + "u")), 5);
}

// The attack: a list in a list ... 200,000 deep in 600 kB, and tuples by TUPLE1, one byte each.
TEST(PickleNestingTest, DeepListsAndTuplesAreMeasuredWithoutRecursion) {
  const int n = 200000;
  std::string lists;
  for (int i = 0; i < n; ++i) lists += "](";
  lists += "]" + std::string(n, 'e');
  EXPECT_EQ(PickleNesting(Proto2(lists), 1000), 1001);
  EXPECT_EQ(PickleNesting(Proto2(lists), 1000000), n + 1);
  EXPECT_EQ(PickleNesting(Proto2("N" + std::string(n, '\x85')), 1000000), n);
}

// Containers taken from the memo and filled after they were put in another still count.
TEST(PickleNestingTest, ContainersFilledAfterTheyWereNestedCount) {
  const int n = 3000;
  std::string body;
  for (int i = 0; i < n; ++i) body += "]r" + Index(i) + "0";  // each list memoized, popped
  for (int i = 0; i + 1 < n; ++i) body += "j" + Index(i) + "j" + Index(i + 1) + "a0";
  EXPECT_EQ(PickleNesting(Proto2(body), 100000), n);
  EXPECT_EQ(PickleNesting(Proto2(body)), kMaxPickleNesting + 1);
}

// A walk that cannot reach the STOP fails closed: LibTorch may read on where it cannot.
TEST(PickleNestingTest, WhatTheWalkCannotFollowToItsStopIsUnmeasurable) {
  EXPECT_EQ(PickleNesting(Proto2("]q\x00h\x00"
                                 "a"s)),
            1);                                                           // a list holding itself
  EXPECT_EQ(PickleNesting(std::string("\x80\x02](", 4)), kUnmeasurable);  // cut short
  EXPECT_EQ(PickleNesting("a."), kUnmeasurable);                          // APPEND to nothing
  EXPECT_EQ(PickleNesting(Proto2("]\xff]")), kUnmeasurable);              // not an opcode
  EXPECT_EQ(PickleNesting(Proto2("X\xff\xff\xff\x7f")), kUnmeasurable);   // past the end
  EXPECT_EQ(PickleNesting(""), kUnmeasurable);
  EXPECT_EQ(PickleNesting(Proto2("Nr\xf0\xff\xff\xff"s)), kUnmeasurable);  // a 4-billion memo
}

// Where LibTorch reads on, so does the walk: a memo slot skipped over is None, and a pop takes
// the top value across a MARK (probe BH: each hid a list 150,000 deep behind it).
TEST(PickleNestingTest, MemoGapsAndPopsAcrossAMarkAreReadAsLibTorchReadsThem) {
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "](";
  deep += std::string(5000, 'e');
  EXPECT_EQ(PickleNesting(Proto2("](Nq\x02h\x01"
                                 "e(" +
                                 deep + "e")),
            kMaxPickleNesting + 1);
  EXPECT_EQ(PickleNesting(Proto2("N(\x85" + deep + "\x86")), kMaxPickleNesting + 1);
}

}  // namespace
}  // namespace polytrain
