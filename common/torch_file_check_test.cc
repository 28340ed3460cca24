// The kind of file a job names, told from its first bytes and its zip directory alone.
#include "common/torch_file_check.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/zip_archive.h"

namespace polytrain {
namespace {

std::string Write(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(CheckTorchFileTest, EachKindIsNamedInItsOwnWords) {
  const std::string empty = Write("empty.pt", "");
  EXPECT_EQ(CheckTorchFile(empty, "f", TorchFile::kTorchScript)
                .message()
                .rfind("f: not a TorchScript file (torch.jit.save): ", 0),
            0u);
  EXPECT_EQ(CheckTorchFile(empty, "f", TorchFile::kTorchSave)
                .message()
                .rfind("f: not a file torch.save wrote: ", 0),
            0u);
  // torch.save's format before torch 1.6: a pickle opening with torch's magic number.
  const std::string legacy =
      Write("legacy.pt", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
                                     "more pickle",
                                     25));
  EXPECT_EQ(CheckTorchFile(legacy, "f", TorchFile::kTorchSave).message(),
            "f: torch.save's legacy format (before torch 1.6, or "
            "_use_new_zipfile_serialization=False); save it again with torch.save and the default "
            "zip format");
  EXPECT_EQ(CheckTorchFile(legacy, "f", TorchFile::kTorchScript)
                .message()
                .rfind("f: not a TorchScript file (torch.jit.save): ", 0),
            0u);
  // torch.save's archive must hold its data.pkl (here one of no records: its end-of-directory
  // record alone). A model's must hold TorchScript's constants.pkl: torch.save's archive of a
  // state_dict does not.
  const std::string archive =
      Write("archive.pt", std::string("PK\x05\x06", 4) + std::string(18, '\0'));
  EXPECT_EQ(CheckTorchFile(archive, "f", TorchFile::kTorchSave).message(),
            "f: not a file torch.save wrote: a zip archive without its record data.pkl");
  EXPECT_EQ(CheckTorchFile(archive, "f", TorchFile::kTorchScript).message(),
            "f: not a TorchScript file (torch.jit.save): a zip archive without its record "
            "constants.pkl (torch.save writes such archives, of a state_dict say: save the module "
            "itself with torch.jit.save(torch.jit.script(model)))");
  const std::string weights =
      Write("weights.pt", testing::StoredZip("\x80\x02N.", "archive/data.pkl"));
  EXPECT_FALSE(CheckTorchFile(weights, "f", TorchFile::kTorchScript).ok());
  EXPECT_TRUE(CheckTorchFile(weights, "f", TorchFile::kTorchSave).ok());
  // Only at the archive's top level: a nested one is some other file's.
  const std::string nested =
      Write("nested.pt", testing::StoredZip("x", "archive/extra/constants.pkl"));
  EXPECT_FALSE(CheckTorchFile(nested, "f", TorchFile::kTorchScript).ok());
  const std::string nested_data =
      Write("nested_data.pt", testing::StoredZip("\x80\x02N.", "archive/extra/data.pkl"));
  EXPECT_FALSE(CheckTorchFile(nested_data, "f", TorchFile::kTorchSave).ok());
  // LibTorch finds records ignoring case.
  const std::string upper = Write("upper.pt", testing::StoredZip("\x80\x02N.", "archive/DATA.PKL"));
  EXPECT_TRUE(CheckTorchFile(upper, "f", TorchFile::kTorchSave).ok());
  const std::string model = Write("model.pt", testing::StoredModelZip("x"));
  EXPECT_TRUE(CheckTorchFile(model, "f", TorchFile::kTorchScript).ok());
  // A TorchScript module named as a tensors file is said to be one (it holds a data.pkl too).
  EXPECT_EQ(CheckTorchFile(model, "f", TorchFile::kTorchSave).message(),
            "f: not a file torch.save wrote: a TorchScript module (torch.jit.save); the tensors "
            "file is a dict of tensors saved with torch.save({\"train_x\": ..., ...})");
}

}  // namespace
}  // namespace polytrain
