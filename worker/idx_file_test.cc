#include "worker/idx_file.h"

#include <zlib.h>

#include <fstream>

#include "gtest/gtest.h"

namespace polytrain {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

std::string Write(const std::string& name, const std::string& content, bool gzip) {
  const std::string path = ::testing::TempDir() + "/" + name;
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << content;
  }
  return path;
}

TEST(IdxFileTest, ReadsGzippedAndPlainFiles) {
  // 2 images of 2x3 pixels.
  const std::string images = Bytes({0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3}) +
                             Bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255});
  for (bool gzip : {true, false}) {
    absl::StatusOr<IdxArray> a = ReadIdxFile(Write(gzip ? "i.gz" : "i", images, gzip));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->dims, (std::vector<int64_t>{2, 2, 3}));
    EXPECT_EQ(a->data.size(), 12u);
    EXPECT_EQ(a->data[11], 255);
  }
}

TEST(IdxFileTest, RealFashionMnistLabels) {
  absl::StatusOr<IdxArray> labels =
      ReadIdxFile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->dims, (std::vector<int64_t>{10000}));
  int counts[10] = {};
  for (uint8_t label : labels->data) counts[label]++;
  for (int c : counts) EXPECT_EQ(c, 1000);  // the test set is balanced
}

TEST(IdxFileTest, BadFilesAreClearErrors) {
  EXPECT_EQ(ReadIdxFile(::testing::TempDir() + "/missing.gz").status().code(),
            absl::StatusCode::kNotFound);
  const std::string bad_magic = Write("bad", Bytes({1, 2, 8, 1, 0, 0, 0, 1, 7}), false);
  EXPECT_EQ(ReadIdxFile(bad_magic).status().message(),
            bad_magic + ": not an IDX file (bad magic number)");
  const std::string floats = Write("floats", Bytes({0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}), false);
  EXPECT_EQ(ReadIdxFile(floats).status().message(),
            floats + ": IDX element type 0xd unsupported (only unsigned byte)");
  const std::string short_data = Write("short.gz", Bytes({0, 0, 8, 1, 0, 0, 0, 5, 1, 2}), true);
  EXPECT_EQ(ReadIdxFile(short_data).status().message(),
            short_data + ": IDX data shorter than its header's 5 bytes");
  for (bool gzip : {true, false}) {
    // Exactly the header's bytes pass (the edge); one more is refused.
    const std::string header = Bytes({0, 0, 8, 1, 0, 0, 0, 2});
    EXPECT_TRUE(ReadIdxFile(Write(gzip ? "exact.gz" : "exact", header + Bytes({1, 2}), gzip)).ok());
    const std::string long_data = Write(gzip ? "long.gz" : "long", header + Bytes({1, 2, 3}), gzip);
    EXPECT_EQ(ReadIdxFile(long_data).status().message(),
              long_data +
                  ": IDX data longer than its header's 2 bytes (its header's dimensions do not "
                  "describe the file)");
  }
}

}  // namespace
}  // namespace polytrain
