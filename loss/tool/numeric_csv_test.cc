#include "loss/tool/numeric_csv.h"

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
            ragged + ":2: has 1 columns, earlier rows have 2");
  const std::string empty = WriteTemp("empty.csv", "# nothing\n");
  EXPECT_EQ(ReadNumericCsv(empty).status().message(), empty + ": no data rows");
  EXPECT_EQ(ReadNumericCsv(::testing::TempDir() + "/none.csv").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polytrain::loss
