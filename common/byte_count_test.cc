#include "common/byte_count.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(ByteCountText, TheExactNumberFirstAndAUnitFromOneMebibyteOn) {
  EXPECT_EQ(ByteCountText(0), "0 bytes");
  EXPECT_EQ(ByteCountText(1), "1 byte");
  EXPECT_EQ(ByteCountText((1 << 20) - 1), "1048575 bytes");
  EXPECT_EQ(ByteCountText(1 << 20), "1048576 bytes (1.0 MiB)");
  EXPECT_EQ(ByteCountText((int64_t{1} << 30) - 1), "1073741823 bytes (1024.0 MiB)");
  EXPECT_EQ(ByteCountText(int64_t{20} << 30), "21474836480 bytes (20.00 GiB)");
  EXPECT_EQ(ByteCountText(int64_t{1} << 62), "4611686018427387904 bytes (4294967296.00 GiB)");
}

}  // namespace
}  // namespace polytrain
