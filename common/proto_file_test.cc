#include "common/proto_file.h"

#include <fstream>

#include "gtest/gtest.h"
#include "polytrain/v1/loss.pb.h"

namespace polytrain {
namespace {

using polytrain::v1::LossSpec;

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(ProtoFileTest, ReadsTextFormatAndJsonByExtension) {
  LossSpec spec;
  ASSERT_TRUE(ReadProtoFile(WriteTemp("a.txtpb", "poly1 { epsilon: 2 }\n"), &spec).ok());
  EXPECT_EQ(spec.poly1().epsilon(), 2.0);
  ASSERT_TRUE(ReadProtoFile(
                  WriteTemp("b.json", R"({"focal": {"gamma": 2}, "label_smoothing": 0.1})"), &spec)
                  .ok());
  EXPECT_EQ(spec.focal().gamma(), 2.0);
  EXPECT_FALSE(spec.has_poly1());  // cleared before parsing
  EXPECT_EQ(spec.label_smoothing(), 0.1);
}

TEST(ProtoFileTest, TextErrorsCarryLineAndColumn) {
  LossSpec spec;
  const std::string path = WriteTemp("bad.txtpb", "poly1 {\n  epsilon: two\n}\n");
  const absl::Status status = ReadProtoFile(path, &spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, path.size() + 6), path + ":2:12:") << status;
  const absl::Status unknown = ParseProto("poly2 {}", ProtoFormat::kText, "<flag>", &spec);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("<flag>:1:7: "), std::string::npos) << unknown;
  EXPECT_NE(unknown.message().find("poly2"), std::string::npos) << unknown;
}

TEST(ProtoFileTest, JsonErrorsAreInvalidArgument) {
  LossSpec spec;
  const absl::Status status =
      ParseProto(R"({"poly1": {"epsilon": "x"}})", ProtoFormat::kJson, "s.json", &spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("s.json: "), std::string::npos) << status;
  EXPECT_EQ(ParseProto(R"({"unknown_field": 1})", ProtoFormat::kJson, "s.json", &spec).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProtoFileTest, UnknownExtensionAndMissingFile) {
  LossSpec spec;
  EXPECT_EQ(ReadProtoFile("spec.yaml", &spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadProtoFile(::testing::TempDir() + "/missing.txtpb", &spec).code(),
            absl::StatusCode::kNotFound);
}

TEST(ProtoFileTest, JsonOutputUsesProtoFieldNames) {
  LossSpec spec;
  spec.mutable_poly_n()->add_epsilons(1.5);
  spec.set_label_smoothing(0.1);
  EXPECT_EQ(ToJson(spec), R"({"poly_n":{"epsilons":[1.5]},"label_smoothing":0.1})");
}

}  // namespace
}  // namespace polytrain
