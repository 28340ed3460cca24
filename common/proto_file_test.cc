#include "common/proto_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "polytrain/v1/job.pb.h"
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
  EXPECT_EQ(ParseProto("poly1 { epsilon: 2\n", ProtoFormat::kText, "<flag>", &spec).message(),
            "<flag>:2:1: Expected identifier, got: the end of the text (a '{' or '<' left open?)");
}

TEST(ProtoFileTest, JsonErrorsAreInvalidArgument) {
  LossSpec spec;
  const absl::Status status =
      ParseProto(R"({"poly1": {"epsilon": "x"}})", ProtoFormat::kJson, "s.json", &spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("s.json: "), std::string::npos) << status;
  EXPECT_EQ(ParseProto(R"({"unknown_field": 1})", ProtoFormat::kJson, "s.json", &spec).code(),
            absl::StatusCode::kInvalidArgument);
  // An error of the message itself has no field path before it.
  const absl::Status twice =
      ParseProto(R"({"poly1": {}, "focal": {}})", ProtoFormat::kJson, "s.json", &spec);
  EXPECT_EQ(twice.message().find("s.json: more than one field of 'form' is set; give one"), 0u)
      << twice;
}

// Protobuf's text parser takes any byte escape in a string; its binary parser (gRPC, the job
// store) refuses strings that are not UTF-8, so ParseProto refuses them first, naming the field.
TEST(ProtoFileTest, TextStringsMustBeUtf8) {
  polytrain::v1::JobSpec spec;
  const auto error = [&spec](const std::string& text) {
    const absl::Status status = ParseProto(text, ProtoFormat::kText, "j.txtpb", &spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    return std::string(status.message());
  };
  EXPECT_EQ(error(R"(name: "fa\x8f")"), "j.txtpb: name: not valid UTF-8 (string fields must be)");
  EXPECT_EQ(error(R"(labels { key: "a" value: "b" } labels { key: "c" value: "\xed\xa0\x80" })"),
            "j.txtpb: labels[\"c\"]: not valid UTF-8 (string fields must be)");  // a surrogate
  EXPECT_EQ(error(R"(dataset { idx { train_images: "\xc0\xaf" } })"),            // an overlong "/"
            "j.txtpb: dataset.idx.train_images: not valid UTF-8 (string fields must be)");
  EXPECT_EQ(error(R"(name: "\xf4\x90\x80\x80")"),  // past U+10FFFF
            "j.txtpb: name: not valid UTF-8 (string fields must be)");
  EXPECT_EQ(error(R"(name: "\xe2\x82")"), "j.txtpb: name: not valid UTF-8 (string fields must be)");
  EXPECT_EQ(error(R"(labels { key: "\xff" value: "b" })"),
            "j.txtpb: labels[\"\\xff\"]: not valid UTF-8 (string fields must be)");
  EXPECT_EQ(spec.name(), "");  // cleared

  const absl::Status ok = ParseProto(R"(name: "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")",
                                     ProtoFormat::kText, "j.txtpb", &spec);
  EXPECT_TRUE(ok.ok()) << ok;
  EXPECT_EQ(spec.name(), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(ProtoFileTest, UnknownExtensionAndMissingFile) {
  LossSpec spec;
  EXPECT_EQ(ReadProtoFile("spec.ini", &spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadProtoFile(::testing::TempDir() + "/missing.txtpb", &spec).code(),
            absl::StatusCode::kNotFound);
}

TEST(ProtoFileTest, YamlIsTheJsonMappingWrittenAsYaml) {
  polytrain::v1::JobSpec spec;
  ASSERT_TRUE(
      ParseProto("name: y\nloss: {poly1: {epsilon: 2}}\nbatch_size: 8\nlabels: {team: '1'}\n",
                 ProtoFormat::kYaml, "j.yaml", &spec)
          .ok());
  EXPECT_EQ(spec.name(), "y");
  EXPECT_EQ(spec.loss().poly1().epsilon(), 2);
  EXPECT_EQ(spec.batch_size(), 8);
  EXPECT_EQ(spec.labels().at("team"), "1");  // quoted: a string, not a number
  const absl::Status syntax = ParseProto("name: [y\n", ProtoFormat::kYaml, "bad.yaml", &spec);
  EXPECT_EQ(syntax.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(syntax.message().substr(0, 11), "bad.yaml:2:") << syntax.message();
  const absl::Status type = ParseProto("batch_size: lots\n", ProtoFormat::kYaml, "t.yaml", &spec);
  EXPECT_EQ(type.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ProtoFormatFromPath("a.yml"), ProtoFormat::kYaml);
}

TEST(ProtoFileTest, YamlAliasesExpandWithinBounds) {
  polytrain::v1::JobSpec spec;
  // An alias for what its anchor named is YAML's own shorthand, and works.
  ASSERT_TRUE(
      ParseProto("labels: {a: &v shared, b: *v}\n", ProtoFormat::kYaml, "j.yaml", &spec).ok());
  EXPECT_EQ(spec.labels().at("b"), "shared");
  // An alias inside what it names never ends: refused (it used to overflow the stack).
  LossSpec loss;
  EXPECT_EQ(ParseProto("cross_entropy: {}\nclass_weights: &a [1, *a]\n", ProtoFormat::kYaml,
                       "a.yaml", &loss)
                .message(),
            "a.yaml:2:20: nested deeper than 64 levels (counted from the top, aliases expanded)");
  EXPECT_EQ(ParseProto("a: &a [*a]\n", ProtoFormat::kYaml, "a.yaml", &loss).code(),
            absl::StatusCode::kInvalidArgument);
  // A few hundred bytes of nested aliases that would expand to 10^9 values ("billion
  // laughs"): refused once kMaxYamlValues are reached.
  std::string laughs = "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (int level = 1; level < 9; ++level) {
    laughs += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int k = 0; k < 10; ++k) laughs += (k > 0 ? ", *a" : "*a") + std::to_string(level - 1);
    laughs += "]\n";
  }
  EXPECT_EQ(ParseProto(laughs, ProtoFormat::kYaml, "l.yaml", &loss).message(),
            "l.yaml:1:31: more than 250000 values once its aliases are expanded");
  // The largest spec there can be is within the bound: 100000 class weights.
  std::string weights = "cross_entropy: {}\nclass_weights: [1";
  for (int i = 1; i < 100000; ++i) weights += ", 1";
  ASSERT_TRUE(ParseProto(weights + "]\n", ProtoFormat::kYaml, "w.yaml", &loss).ok());
  EXPECT_EQ(loss.class_weights_size(), 100000);
}

TEST(ProtoFileTest, YamlThatIsNotUtf8OrHasANullInAListIsRefusedByPlace) {
  polytrain::v1::JobSpec spec;
  // A byte that is not UTF-8 in a value or a key (nlohmann's dump threw, and polyctl aborted).
  EXPECT_EQ(ParseProto("seed: 1\nname: x\xe9y\n", ProtoFormat::kYaml, "u.yaml", &spec).message(),
            "u.yaml:2:7: not valid UTF-8 (a spec file is UTF-8 text)");
  EXPECT_EQ(ParseProto("n\xff"
                       "ame: x\n",
                       ProtoFormat::kYaml, "k.yaml", &spec)
                .message(),
            "k.yaml:1:1: not valid UTF-8 (a spec file is UTF-8 text)");
  // A null in a list: protobuf's JSON parser dropped it, and an MLP lost a layer.
  EXPECT_EQ(ParseProto("model: {mlp: {hidden: [32, null]}}\n", ProtoFormat::kYaml, "h.yaml", &spec)
                .message(),
            "h.yaml: model.mlp.hidden[1]: null in a list (give every element a value)");
  EXPECT_EQ(ParseProto("loss: {poly1: {epsilon: 1e400}}\n", ProtoFormat::kYaml, "e.yaml", &spec)
                .message(),
            "e.yaml:1:25: a number out of a double's range");
  ASSERT_TRUE(ParseProto("name: \"caf\xc3\xa9\"\n", ProtoFormat::kYaml, "ok.yaml", &spec).ok());
  EXPECT_EQ(spec.name(), "caf\xc3\xa9");
}

TEST(ProtoFileTest, AYamlFileHoldsOneDocument) {
  LossSpec loss;
  EXPECT_EQ(
      ParseProto("---\npoly1: {}\n---\nfocal: {gamma: 2}\n", ProtoFormat::kYaml, "m.yaml", &loss)
          .message(),
      "m.yaml:4:1: a second YAML document (after ---): a spec file holds one, and the rest "
      "would be ignored");
  // An empty one after a closing --- is no second document.
  ASSERT_TRUE(ParseProto("focal: {gamma: 2}\n---\n", ProtoFormat::kYaml, "m.yaml", &loss).ok());
  EXPECT_EQ(loss.focal().gamma(), 2);
}

TEST(ProtoFileTest, ListsAndSingleValuesAreWhereTheMessageHasThem) {
  LossSpec loss;
  // protobuf's JSON parser would flatten the first and wrap the second.
  EXPECT_EQ(ParseProto(R"({"cross_entropy": {}, "class_weights": [[1, 2], [3]]})",
                       ProtoFormat::kJson, "n.json", &loss)
                .message(),
            "n.json: class_weights[0]: a list inside a list where one value belongs");
  EXPECT_EQ(
      ParseProto(R"({"poly_n": {"epsilons": 1}})", ProtoFormat::kJson, "s.json", &loss).message(),
      "s.json: poly_n.epsilons: a list is expected (poly_n.epsilons: [...]), got a number");
  EXPECT_EQ(
      ParseProto(R"({"poly1": {"epsilon": [1]}})", ProtoFormat::kJson, "l.json", &loss).message(),
      "l.json: poly1.epsilon: a list where one value belongs");
  EXPECT_EQ(ParseProto("cross_entropy: {}\nclass_weights: [[1, 2]]\n", ProtoFormat::kYaml, "n.yaml",
                       &loss)
                .message(),
            "n.yaml: class_weights[0]: a list inside a list where one value belongs");
  EXPECT_EQ(ParseProto(R"({"cross_entropy": {}, "class_weights": [1, null]})", ProtoFormat::kJson,
                       "z.json", &loss)
                .message(),
            "z.json: class_weights[1]: null in a list (give every element a value)");
  // A field under both its names: protobuf kept the last, and YAML's keys are sorted.
  polytrain::v1::JobSpec job;
  EXPECT_EQ(ParseProto("max_steps: 5\nmaxSteps: 6\n", ProtoFormat::kYaml, "d.yaml", &job).message(),
            "d.yaml: max_steps: given twice, as max_steps and maxSteps");
  EXPECT_EQ(ParseProto(R"({"cross_entropy": {}, "label_smoothing": 0.1, "labelSmoothing": 0.2})",
                       ProtoFormat::kJson, "d.json", &loss)
                .message(),
            "d.json: label_smoothing: given twice, as label_smoothing and labelSmoothing");
  // A boolean is true or false (protobuf's parser took "yes", "1" and "t" too).
  EXPECT_EQ(ParseProto("optimizer: {sgd: {nesterov: True}}\n", ProtoFormat::kYaml, "b.yaml", &job)
                .message(),
            "b.yaml: optimizer.sgd.nesterov: must be true or false, got a string");
  // Numbers are decimal: hexadecimal stays text (a string field takes it), a uint64 is exact.
  ASSERT_TRUE(
      ParseProto("name: 0x1F\nseed: 18446744073709551615\n", ProtoFormat::kYaml, "h.yaml", &job)
          .ok());
  EXPECT_EQ(job.name(), "0x1F");
  EXPECT_EQ(job.seed(), 18446744073709551615u);
  EXPECT_EQ(ParseProto("max_steps: 0x1F\n", ProtoFormat::kYaml, "x.yaml", &job).code(),
            absl::StatusCode::kInvalidArgument);
  // A real number too (protobuf's parser read a quoted "0x1F" with strtod: 31).
  EXPECT_EQ(ParseProto("poly1: {epsilon: 0x1F}\n", ProtoFormat::kYaml, "e.yaml", &loss).message(),
            "e.yaml: poly1.epsilon: must be a number, got \"0x1F\"");
  EXPECT_EQ(ParseProto(R"({"poly1": {"epsilon": "0x1F"}})", ProtoFormat::kJson, "e.json", &loss)
                .message(),
            "e.json: poly1.epsilon: must be a number, got \"0x1F\"");
  for (const char* quoted : {"1.5", "-2", ".5", "1e-3", "2E+2", "NaN", "Infinity"}) {
    EXPECT_TRUE(ParseProto(absl::StrCat(R"({"poly1": {"epsilon": ")", quoted, R"("}})"),
                           ProtoFormat::kJson, "q.json", &loss)
                    .ok())
        << quoted;  // proto3's JSON form quotes numbers so
  }
  for (const char* quoted : {"", " 1", "1_000", "e5", "1e", "--1", "0x1p3", "inf"}) {
    EXPECT_EQ(ParseProto(absl::StrCat(R"({"poly1": {"epsilon": ")", quoted, R"("}})"),
                         ProtoFormat::kJson, "q.json", &loss)
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << quoted;
  }
  // JSON names (camelCase) are checked as the proto names are.
  EXPECT_EQ(
      ParseProto(R"({"crossEntropy": {}, "classWeights": 2})", ProtoFormat::kJson, "c.json", &loss)
          .message(),
      "c.json: classWeights: a list is expected (classWeights: [...]), got a number");
  // In YAML an empty value for a message is that message, empty: `cross_entropy:` is
  // `cross_entropy: {}`. (In JSON, null is "not set".)
  ASSERT_TRUE(
      ParseProto("cross_entropy:\nlabel_smoothing: 0.1\n", ProtoFormat::kYaml, "e.yaml", &loss)
          .ok());
  EXPECT_TRUE(loss.has_cross_entropy());
  polytrain::v1::JobSpec spec;
  ASSERT_TRUE(ParseProto("name: x\nmodel:\n  mlp:\nloss: {cross_entropy: }\n", ProtoFormat::kYaml,
                         "e.yaml", &spec)
                  .ok());
  EXPECT_TRUE(spec.model().has_mlp());
  EXPECT_TRUE(spec.loss().has_cross_entropy());
}

TEST(ProtoFileTest, OnlyRegularFilesAreRead) {
  LossSpec loss;
  EXPECT_EQ(ReadProtoFile(::testing::TempDir() + "/", &loss).code(),
            absl::StatusCode::kInvalidArgument);
  const std::string dir = ::testing::TempDir() + "/dir.txtpb";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(ReadProtoFile(dir, &loss).message(), dir + ": is a directory, not a file");
  // A FIFO with no writer would block the reader forever.
  const std::string fifo = ::testing::TempDir() + "/fifo.txtpb";
  std::filesystem::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ReadProtoFile(fifo, &loss).message(), fifo + ": not a regular file");
  std::filesystem::remove(fifo);
}

TEST(ProtoFileTest, AKeyGivenTwiceIsRefusedInEveryFormat) {
  polytrain::v1::JobSpec spec;
  EXPECT_EQ(ParseProto(R"({"name": "first", "batch_size": 8, "name": "second"})",
                       ProtoFormat::kJson, "j.json", &spec)
                .message(),
            "j.json: duplicate key 'name' (give each once)");
  EXPECT_EQ(ParseProto(R"({"loss": {"poly1": {"epsilon": 1, "epsilon": 2}}})", ProtoFormat::kJson,
                       "j.json", &spec)
                .message(),
            "j.json: duplicate key 'epsilon' (give each once)");
  // The same key in two objects is no duplicate.
  EXPECT_TRUE(ParseProto(R"({"loss": {"poly1": {"epsilon": 1}}, "labels": {"epsilon": "x"}})",
                         ProtoFormat::kJson, "j.json", &spec)
                  .ok());
  EXPECT_EQ(ParseProto("name: a\nbatch_size: 8\nname: b\n", ProtoFormat::kYaml, "j.yaml", &spec)
                .message(),
            "j.yaml:3:1: duplicate key 'name' (give each once)");
  EXPECT_NE(ParseProto("name: 'a'\nname: 'b'\n", ProtoFormat::kText, "j.txtpb", &spec).message(),
            "");
}

TEST(ProtoFileTest, AJsonSyntaxErrorIsOneLine) {
  polytrain::v1::JobSpec spec;
  const absl::Status cut = ParseProto(R"({"name": "tru)", ProtoFormat::kJson, "t.json", &spec);
  EXPECT_EQ(cut.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cut.message().find('\n'), absl::string_view::npos) << cut.message();
  EXPECT_EQ(cut.message().substr(0, 12), "t.json:1:14:") << cut.message();
}

// A JSON file's errors name the line (and, for a syntax error, the column) an editor shows.
TEST(ProtoFileTest, JsonErrorsNameTheirLine) {
  polytrain::v1::JobSpec spec;
  EXPECT_EQ(ParseProto("{\n  \"name\": \"x\",\n  \"epochs\": 2,,\n}\n", ProtoFormat::kJson,
                       "g.json", &spec)
                .message(),
            "g.json:3:15: syntax error while parsing object key - unexpected ','; expected string "
            "literal");
  EXPECT_EQ(
      ParseProto("{\n  \"name\": \"x\",\n  \"epoch\": 2\n}\n", ProtoFormat::kJson, "c.json", &spec)
          .message(),
      "c.json:3: epoch: no such field");
  EXPECT_EQ(
      ParseProto("{\"name\": \"x\",\n\n \"batchSize\": \"abc\"}", ProtoFormat::kJson, "a.json",
                 &spec)
          .message(),
      "a.json:3: batch_size: must be a whole number from -2147483648 to 2147483647, got \"abc\"");
  // Our own shape checks too; a key named at two places gets no line rather than a wrong one.
  EXPECT_EQ(ParseProto("{\"name\": \"x\",\n \"loss\": {\"poly_n\": {\"epsilons\": 1}}}",
                       ProtoFormat::kJson, "s.json", &spec)
                .message(),
            "s.json:2: loss.poly_n.epsilons: a list is expected (loss.poly_n.epsilons: [...]), got "
            "a number");
  EXPECT_EQ(ParseProto("{\"model\": {\"mlp\": {\"name\": 1}},\n \"name\": \"x\"}",
                       ProtoFormat::kJson, "t.json", &spec)
                .message(),
            "t.json: model.mlp.name: no such field");
  EXPECT_EQ(ParseProto("{\"labels\": 5}", ProtoFormat::kJson, "m.json", &spec).message(),
            "m.json: labels: must be an object of names to values, got 5");
  // A oneof given twice below the top, too.
  EXPECT_EQ(
      ParseProto("{\"loss\": {\"poly1\": {}, \"focal\": {}}}", ProtoFormat::kJson, "o.json", &spec)
          .message(),
      "o.json: loss: more than one field of 'form' is set; give one");
  // protobuf's other complaints about a value, in our words.
  EXPECT_EQ(ParseProto("{\"precision\": \"NOPE\"}", ProtoFormat::kJson, "p.json", &spec).message(),
            "p.json: precision: must be one of PRECISION_UNSPECIFIED, PRECISION_FP32, "
            "PRECISION_BF16, got \"NOPE\"");
  EXPECT_EQ(ParseProto("{\"deterministic\": 3}", ProtoFormat::kJson, "d.json", &spec).message(),
            "d.json: deterministic: must be true or false, got 3");
  EXPECT_EQ(ParseProto("{\"labels\": {\"a\": 1}}", ProtoFormat::kJson, "l.json", &spec).message(),
            "l.json: labels[0].value: must be a string, got 1");
  EXPECT_EQ(
      ParseProto("{\"optimizer\": {\"learning_rate\": \"x\"}}", ProtoFormat::kJson, "o.json", &spec)
          .message(),
      "o.json: optimizer.learning_rate: must be a number, got \"x\"");
  // A control byte in the text is shown escaped.
  EXPECT_EQ(ParseProto("{\"name\": \"a\x01\"}", ProtoFormat::kJson, "u.json", &spec).message(),
            "u.json:1:12: syntax error while parsing value - invalid string: control character "
            "U+0001 (SOH) must be escaped to \\u0001; last read: '\"a<U+0001>'");
}

TEST(ProtoFileTest, AnUnreadableFileSaysWhy) {
  polytrain::v1::JobSpec spec;
  const absl::Status missing = ReadProtoFile(::testing::TempDir() + "/missing.txtpb", &spec);
  EXPECT_EQ(missing.message(), ::testing::TempDir() + "/missing.txtpb: no such file");
  const absl::Status directory = ReadProtoFile(::testing::TempDir() + "/.", &spec);
  EXPECT_NE(directory.code(), absl::StatusCode::kOk);
}

TEST(ProtoFileTest, JsonOutputUsesProtoFieldNames) {
  LossSpec spec;
  spec.mutable_poly_n()->add_epsilons(1.5);
  spec.set_label_smoothing(0.1);
  EXPECT_EQ(ToJson(spec), R"({"poly_n":{"epsilons":[1.5]},"label_smoothing":0.1})");
}

TEST(ProtoFileTest, JsonWritesADoubleThatIsNotFiniteAsNull) {
  // A number in one row and the string "NaN" in the next broke typed readers.
  LossSpec spec;
  spec.mutable_poly_n()->add_epsilons(NAN);
  spec.mutable_poly_n()->add_epsilons(2);
  spec.mutable_poly_n()->add_epsilons(-INFINITY);
  spec.set_label_smoothing(INFINITY);
  EXPECT_EQ(ToJson(spec), R"({"poly_n":{"epsilons":[null,2,null]},"label_smoothing":null})");
  polytrain::v1::JobSpec job;
  (*job.mutable_labels())["k"] = "Infinity";  // a string keeps its text
  job.set_name("NaN");
  job.mutable_loss()->set_label_smoothing(NAN);
  EXPECT_EQ(ToJson(job),
            R"({"name":"NaN","labels":{"k":"Infinity"},"loss":{"label_smoothing":null}})");
}

TEST(ProtoFileTest, JsonWritesMapKeysSorted) {
  // A map printed in its hash order made the same answer differ from call to call (probe CE).
  polytrain::v1::JobSpec job;
  std::string expected;
  for (int i = 0; i < 30; ++i) {
    const std::string key = absl::StrCat("k", 100 + i);
    (*job.mutable_labels())[key] = "v";
    absl::StrAppend(&expected, expected.empty() ? "" : ",", "\"", key, "\":\"v\"");
  }
  EXPECT_EQ(ToJson(job), absl::StrCat(R"({"labels":{)", expected, "}}"));
  job.set_name("NaN");  // the path that rewrites non-finite numbers keeps the order
  job.mutable_loss()->set_label_smoothing(NAN);
  EXPECT_EQ(ToJson(job), absl::StrCat(R"({"name":"NaN","labels":{)", expected,
                                      R"(},"loss":{"label_smoothing":null}})"));
}

}  // namespace
}  // namespace polytrain
