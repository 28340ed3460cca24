#include "common/file_checksum.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "testing/scratch_dir.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

using FileChecksumTest = testing::ScratchDirTest;

TEST_F(FileChecksumTest, MatchesZlibOverTheWholeFile) {
  const std::string content(3 << 20, 'x');  // more than one read buffer
  const std::string path = Write("big", content);
  absl::StatusOr<FileChecksum> checksum = ComputeFileChecksum(path);
  ASSERT_TRUE(checksum.ok()) << checksum.status();
  EXPECT_EQ(checksum->size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(checksum->crc32,
            crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(content.data()),
                  static_cast<uInt>(content.size())));
  EXPECT_EQ(ComputeFileChecksum((dir_ / "absent").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FileChecksumTest, ADamagedOrUnrecordedFileFailsVerification) {
  const std::string path = Write("ckpt", "model weights");
  const std::string record = (dir_ / "ckpt.crc32").string();
  EXPECT_EQ(VerifyAgainstRecord("ckpt", path, record).status().message(),
            "ckpt: no checksum recorded");
  ASSERT_TRUE(WriteChecksumRecord(record, *ComputeFileChecksum(path)).ok());
  ASSERT_TRUE(VerifyAgainstRecord("ckpt", path, record).ok());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);

  Write("ckpt", "model weightz");  // one byte flipped, same size
  absl::StatusOr<FileChecksum> flipped = VerifyAgainstRecord("ckpt", path, record);
  EXPECT_EQ(flipped.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(flipped.status().message().find("13 bytes with CRC-32"), std::string::npos);
  Write("ckpt", "model");  // truncated
  EXPECT_EQ(VerifyAgainstRecord("ckpt", path, record).status().code(), absl::StatusCode::kDataLoss);
  Write("ckpt.crc32", "garbage");
  EXPECT_EQ(VerifyAgainstRecord("ckpt", path, record).status().message(),
            "ckpt: no checksum recorded");
}

}  // namespace
}  // namespace polytrain
