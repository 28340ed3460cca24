// The checks of real-number options: what CLI::Range lets through (NaN) is refused, by the
// same message for every bad value.
#include "cli/command_line.h"

#include <limits>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "gtest/gtest.h"

namespace polytrain {
namespace {

std::string Check(const CLI::Validator& validator, std::string text) { return validator(text); }

TEST(FiniteRangeTest, OnlyAFiniteNumberWithinTheBoundsPasses) {
  const CLI::Validator days = FiniteRange(0.0, 36500.0);
  for (const char* good : {"0", "1e-9", "2.5", "36500"}) EXPECT_EQ(Check(days, good), "") << good;
  for (const char* bad :
       {"nan", "NaN", "inf", "-1", "36500.5", "1e400", "abc", "", "0x10", " 5", "5 ", "1,5"}) {
    EXPECT_EQ(Check(days, bad), std::string("must be a number from 0 to 36500, got ") + bad) << bad;
  }
  EXPECT_EQ(Check(FiniteRange(0.05, 60.0), "0.01"), "must be a number from 0.05 to 60, got 0.01");
}

// An address that cannot be served on or dialled is a usage error at parse time (probe CJ: exit 1
// at start, where other values out of range were exit 2).
TEST(HostPortOptionTest, AnAddressWithAPortInRangePasses) {
  const CLI::Validator dial = HostPortOption(AddressOption::kGrpc, 1, "(e.g. 127.0.0.1:50051)");
  for (const char* good : {"127.0.0.1:1", "[::1]:65535", "host:50051", "dns:///h:5", "unix:/s"}) {
    EXPECT_EQ(Check(dial, good), "") << good;
  }
  for (const char* bad : {"127.0.0.1:0", ":70000", "host", "", "a:1,b:2", "1.2.3.4:x"}) {
    EXPECT_EQ(Check(dial, bad), std::string("expected HOST:PORT with a port in [1, 65535] (e.g. "
                                            "127.0.0.1:50051), got '") +
                                    bad + "'")
        << bad;
  }
  const CLI::Validator metrics = HostPortOption(AddressOption::kMetrics, 0, "(0 picks one)");
  EXPECT_EQ(Check(metrics, "127.0.0.1:0"), "");
  EXPECT_EQ(Check(metrics, ""), "");  // off
  // The HTTP server binds TCP only (review: this passed the parse and failed at start).
  EXPECT_EQ(Check(metrics, "unix:/s"),
            "expected HOST:PORT with a port in [0, 65535] (0 picks one), got 'unix:/s'");
  EXPECT_NE(Check(HostPortOption(AddressOption::kGrpc, 0, "(0 picks one)"), ""), "");
}

TEST(IntegerRangeTest, OnlyAWholeNumberWithinTheBoundsPasses) {
  const CLI::Validator priority = IntegerRange(-1000, 1000);
  for (const char* good : {"-1000", "-1", "0", "7", "1000"}) {
    EXPECT_EQ(Check(priority, good), "") << good;
  }
  for (const char* bad :
       {"-1001", "1001", "abc", "", "-", "1e3", "1.0", "+5", " 5", "5 ", "99999999999999999999"}) {
    EXPECT_EQ(Check(priority, bad),
              std::string("must be a whole number in [-1000, 1000], got ") + bad)
        << bad;
  }
}

TEST(WholeNumberTest, Int64sLargestAsTheBoundReadsAsNone) {
  const CLI::Validator rung = WholeNumber(1, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Check(rung, "1"), "");
  EXPECT_EQ(Check(rung, "9223372036854775807"), "");
  EXPECT_EQ(Check(rung, "0"), "must be a whole number >= 1, got 0");
  EXPECT_EQ(Check(rung, "-3"), "must be a whole number >= 1, got -3");
  for (const char* past : {"9223372036854775808", "99999999999999999999"}) {
    EXPECT_EQ(Check(rung, past),
              std::string("must be a whole number in [1, 9223372036854775807], got ") + past);
  }
  EXPECT_EQ(Check(WholeNumber(), "-1"),
            "must be a whole number in [0, 18446744073709551615], got -1");
}

// ParseCommandLine on `args` (argv[0] first); its exit code, or -1 when the tool goes on.
int Parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseCommandLine(app, static_cast<int>(argv.size()), argv.data()).value_or(-1);
}

TEST(ParseCommandLineTest, AnEmptyValueAfterEqualsIsEmptyNotTheNextArgument) {
  std::string name = "unset";
  bool dry_run = false;
  CLI::App app("test");
  CLI::App* submit = app.add_subcommand("submit");
  submit->add_option("--name", name);
  submit->add_flag("--dry-run", dry_run);
  // CLI11 alone took "--dry-run" as the name here, and the run was no dry run.
  EXPECT_EQ(Parse(app, {"tool", "submit", "--name=", "--dry-run"}), -1);
  EXPECT_EQ(name, "");
  EXPECT_TRUE(dry_run);
  // A value of its own, or '=' inside one, is as before; after "--" nothing is touched.
  EXPECT_EQ(Parse(app, {"tool", "submit", "--name=a=", "--dry-run"}), -1);
  EXPECT_EQ(name, "a=");
  // A flag given an empty value is refused (CLI11 took it as off).
  EXPECT_EQ(Parse(app, {"tool", "submit", "--dry-run="}), kExitUsage);
  // The option's own check judges the empty value.
  CLI::App checked("test");
  checked.add_option("--name", name)->check(NotEmpty());
  EXPECT_EQ(Parse(checked, {"tool", "--name=", "x"}), kExitUsage);
  // An option of several values, or one that is also a positional, would take what follows:
  // refused. An unknown one is CLI11's to name (not an empty positional FILE).
  std::vector<std::string> ranges;
  std::string file;
  CLI::App several("test");
  several.add_option("--range", ranges);
  several.add_option("file,--file", file);
  EXPECT_EQ(Parse(several, {"tool", "--range=", "a.txtpb"}), kExitUsage);
  EXPECT_TRUE(ranges.empty());
  EXPECT_EQ(Parse(several, {"tool", "--file=", "a.txtpb"}), kExitUsage);
  EXPECT_EQ(Parse(several, {"tool", "--nosuch=", "a.txtpb"}), kExitUsage);
  // After "--" an argument is a value as written.
  EXPECT_EQ(Parse(several, {"tool", "--", "--range="}), -1);
  EXPECT_EQ(file, "--range=");
}

}  // namespace
}  // namespace polytrain
