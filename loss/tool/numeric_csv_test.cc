#include "loss/tool/numeric_csv.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace polytrain::loss {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(NumericCsvTest, ReadsRowsSkippingCommentsAndBlankLines) {
  absl::StatusOr<NumericTable> t =
      ReadNumericCsv(WriteTemp("ok.csv", "# logits\n1, 2.5,-3\n\n4,5e-1, 6\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rows, 2);
  EXPECT_EQ(t->cols, 3);
  EXPECT_EQ(t->values, (std::vector<double>{1, 2.5, -3, 4, 0.5, 6}));
}

TEST(NumericCsvTest, ErrorsNameLineAndColumn) {
  const std::string bad = WriteTemp("bad.csv", "1,2\n3,x\n");
  EXPECT_EQ(ReadNumericCsv(bad).status().message(), bad + ":2: column 2: not a number: 'x'");
  const std::string ragged = WriteTemp("ragged.csv", "1,2\n3\n");
  EXPECT_EQ(ReadNumericCsv(ragged).status().message(),
            ragged + ":2: has 1 column, earlier rows have 2");
  const std::string empty = WriteTemp("empty.csv", "# nothing\n");
  EXPECT_EQ(ReadNumericCsv(empty).status().message(), empty + ": no data rows");
  EXPECT_EQ(ReadNumericCsv(::testing::TempDir() + "/none.csv").status().code(),
            absl::StatusCode::kNotFound);
  // Hexadecimal, which SimpleAtod would read, is no CSV number.
  const std::string hex = WriteTemp("hex.csv", "1,0x2\n");
  EXPECT_EQ(ReadNumericCsv(hex).status().message(), hex + ":1: column 2: not a number: '0x2'");
}

TEST(NumericCsvTest, AByteOrderMarkIsSkippedAndWordsAreLeftToTheCaller) {
  absl::StatusOr<NumericTable> t = ReadNumericCsv(WriteTemp("bom.csv",
                                                            "\xEF\xBB\xBF"
                                                            "2.0,-inf,NaN\n"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->values[0], 2.0);
  EXPECT_TRUE(std::isinf(t->values[1]));
  EXPECT_TRUE(std::isnan(t->values[2]));
}

// A FIFO would be read until its writer closed it, if ever: refused, as a directory is.
TEST(NumericCsvTest, OnlyARegularFileIsRead) {
  const std::string fifo = ::testing::TempDir() + "/logits.fifo";
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ReadNumericCsv(fifo).status().message(), fifo + ": not a regular file");
  EXPECT_EQ(ReadNumericCsv(::testing::TempDir()).status().message(),
            ::testing::TempDir() + ": not a regular file");
  std::remove(fifo.c_str());
}

// What stopped the file being looked at is said, not taken for a missing file.
TEST(NumericCsvTest, ALoopOfLinksIsSaidAsSuch) {
  const std::string a = ::testing::TempDir() + "/loop_a.csv",
                    b = ::testing::TempDir() + "/loop_b.csv";
  std::remove(a.c_str());
  std::remove(b.c_str());
  ASSERT_EQ(symlink(b.c_str(), a.c_str()), 0);
  ASSERT_EQ(symlink(a.c_str(), b.c_str()), 0);
  const absl::Status status = ReadNumericCsv(a).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), a + ": Too many levels of symbolic links");
  EXPECT_EQ(ReadNumericCsv(a + ".missing").status().message(), a + ".missing: no such file");
  std::remove(a.c_str());
  std::remove(b.c_str());
}

}  // namespace
}  // namespace polytrain::loss
