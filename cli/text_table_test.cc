#include "cli/text_table.h"

#include "gtest/gtest.h"

namespace polytrain {
namespace {

TEST(TextTableTest, CellsThatFitKeepTheMinimumWidths) {
  TextTable table({{"name", 6}, {"runs", 4, true}, {"state", 0, false, 2}});
  table.AddRow({"ce", "3", "done"});
  EXPECT_EQ(table.ToString(),
            "name   runs  state\n"
            "ce        3  done\n");
}

TEST(TextTableTest, ALongCellWidensItsColumnForEveryRow) {
  TextTable table({{"name", 4}, {"runs", 4, true}, {"state"}});
  table.AddRow({"a-very-long-name", "3", "done"});
  table.AddRow({"ce", "12", "running"});
  EXPECT_EQ(table.ToString(),
            "name             runs state\n"
            "a-very-long-name    3 done\n"
            "ce                 12 running\n");
}

TEST(TextTableTest, WidthsCountCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("naïve"), 5);
  TextTable table({{"name", 6}, {"n", 1, true}});
  table.AddRow({"naïve", "1"});
  table.AddRow({"plain", "2"});
  EXPECT_EQ(table.ToString(),
            "name   n\n"
            "naïve  1\n"
            "plain  2\n");
}

TEST(TextTableTest, MissingCellsAreEmptyAndNoLineEndsInSpaces) {
  TextTable table({{"a", 3}, {"b", 3}});
  table.AddRow({"x"});
  const std::string text = table.ToString();
  EXPECT_EQ(text, "a   b\nx\n");
}

}  // namespace
}  // namespace polytrain
