#include "worker/data_root.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

namespace fs = std::filesystem;

class DataRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::path(::testing::TempDir()) / ("data_root_test_" + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "sub");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "root" / "sub" / "in.txt") << "x";
    std::ofstream(base_ / "outside" / "secret.txt") << "x";
    fs::create_symlink(base_ / "outside" / "secret.txt", base_ / "root" / "link-out");
    fs::create_symlink(base_ / "root" / "sub" / "in.txt", base_ / "root" / "link-in");
    root_ = (base_ / "root").string();
  }
  void TearDown() override { fs::remove_all(base_); }
  fs::path base_;
  std::string root_;
};

TEST_F(DataRootTest, PathsInsideResolve) {
  EXPECT_EQ(*ResolveDataPath(root_, "sub/in.txt", "f"),
            fs::canonical(base_ / "root/sub/in.txt").string());
  EXPECT_TRUE(ResolveDataPath(root_, "link-in", "f").ok());
  EXPECT_TRUE(ResolveDataPath(root_, (base_ / "root/sub/in.txt").string(), "f").ok());
}

TEST_F(DataRootTest, EscapesAreRefusedNamingTheField) {
  const absl::StatusOr<std::string> dots =
      ResolveDataPath(root_, "sub/../../outside/secret.txt", "spec.dataset.idx.train_images");
  EXPECT_EQ(dots.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dots.status().message().find("spec.dataset.idx.train_images: must stay inside"),
            std::string::npos);
  const absl::StatusOr<std::string> absolute =
      ResolveDataPath(root_, (base_ / "outside/secret.txt").string(), "f");
  EXPECT_EQ(absolute.status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<std::string> link = ResolveDataPath(root_, "link-out", "f");
  EXPECT_EQ(link.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(link.status().message(), "f: must stay inside the data root, but 'link-out' leaves it");
  // Only what the job gave is quoted: nothing of the worker's file system reaches the client,
  // neither the root nor where a link points.
  EXPECT_EQ(link.status().message().find(base_.string()), std::string::npos);
  EXPECT_EQ(link.status().message().find("secret"), std::string::npos);
  EXPECT_EQ(dots.status().message().find(root_), std::string::npos);
}

// Only regular files: a FIFO would block whoever opens it, past any time limit or cancel.
TEST_F(DataRootTest, DirectoriesAndFifosAreRefusedNamingTheField) {
  ASSERT_EQ(mkfifo((base_ / "root" / "pipe").c_str(), 0600), 0);
  fs::create_symlink(base_ / "root" / "pipe", base_ / "root" / "link-to-pipe");
  EXPECT_EQ(ResolveDataPath(root_, "sub", "f").status().message(),
            "f: 'sub' is a directory; name a file");
  for (const char* fifo : {"pipe", "link-to-pipe"}) {
    const absl::Status status = ResolveDataPath(root_, fifo, "f").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), absl::StrCat("f: '", fifo,
                                             "' is not a regular file (a FIFO, a socket or a "
                                             "device); name a file"));
  }
}

TEST_F(DataRootTest, MissingFilesAndRoots) {
  EXPECT_EQ(ResolveDataPath(root_, "sub/none.txt", "f").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveDataPath(root_, "sub/none.txt", "f").status().message(),
            "f: 'sub/none.txt' does not exist in the data root (the worker's --data_root); "
            "polyctl submit uploads a file of yours from the spec's directory or --files DIR, the "
            "Python client's submit() from files=DIR");
  EXPECT_EQ(ResolveDataPath(root_, "img", "spec.dataset.idx.train_images").status().message(),
            "spec.dataset.idx.train_images: 'img' does not exist in the data root (the worker's "
            "--data_root); IDX files are read there as they are (polyctl does not upload them; a "
            "tensors file is)");
  EXPECT_EQ(ResolveDataPath((base_ / "no-root").string(), "x", "f").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveDataPath((base_ / "no-root").string(), "x", "f").status().message(),
            "the worker's data root (--data_root) does not exist");
}

}  // namespace
}  // namespace polytrain
