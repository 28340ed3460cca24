#include "common/sha256.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

// FIPS 180-2's test vectors.
constexpr char kAbcHex[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kEmptyHex[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Sha256Test, StreamedPiecesGiveTheWholeDigest) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcHex);
  Sha256Hasher pieces;
  pieces.Update("a");
  pieces.Update("");
  pieces.Update("bc");
  EXPECT_EQ(pieces.FinishHex(), kAbcHex);
  Sha256Hasher nothing;
  EXPECT_EQ(nothing.FinishHex(), kEmptyHex);
}

using Sha256FileTest = testing::ScratchDirTest;

TEST_F(Sha256FileTest, FilesAreHashedInChunks) {
  // Over one read buffer (1 MiB), so that more than one chunk is hashed.
  std::string data(3 * (size_t{1} << 20) + 7, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 % 251);
  const std::string path = Write("big", data);
  absl::StatusOr<std::string> hex = Sha256HexOfFile(path);
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ(*hex, Sha256Hex(data));
  EXPECT_EQ(Sha256HexOfFile((dir_ / "absent").string()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polytrain
