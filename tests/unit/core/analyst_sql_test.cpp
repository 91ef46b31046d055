// SQL made from words and files rather than from the contract: `edgarpipe frame`'s words (what is
// taken, what is refused: nothing reaches SQL that could quote its way out; the query benchmark
// times the SQL the command runs) and the seed of statement_lines from statement_lines.csv.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "edgarpipe/core/tables.hpp"

using namespace edgarpipe;

TEST_CASE("frame words: concepts, units and frames as the SEC writes them", "[frame]") {
  const FrameQuery q = parse_frame_query("us-gaap:EarningsPerShareBasic", "USD-per-shares", "CY2023Q4I");
  CHECK(q.taxonomy == "us-gaap");
  CHECK(q.concept_name == "EarningsPerShareBasic");
  CHECK(q.unit == "USD/shares");  // the API's spelling, as companyfacts writes it
  CHECK(q.frame == "CY2023Q4I");
  for (const char* frame : {"CY2019", "CY2019Q1", "CY2019Q4I"})
    CHECK_NOTHROW(parse_frame_query("dei:EntityCommonStockSharesOutstanding", "shares", frame));
  for (const char* unit : {"USD", "pure", "USD/bbl", "iso4217_USD", "Well"})
    CHECK_NOTHROW(parse_frame_query("us-gaap:Assets", unit, "CY2020"));
}

TEST_CASE("frame words that are not: each refused, saying what is expected", "[frame]") {
  const auto refused = [](const char* taxonomy_concept, const char* unit, const char* frame) {
    try {
      parse_frame_query(taxonomy_concept, unit, frame);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  for (const char* frame : {"CY24", "CY2024Q5", "CY2024Q", "CY2024I", "2024", "CY2024Q3II", "cy2024", ""})
    CHECK_THAT(refused("us-gaap:Assets", "USD", frame), Catch::Contains("is not a frame"));
  for (const char* taxonomy_concept : {"Assets", "us-gaap:", ":Assets", "us-gaap:Assets' OR '1'='1", "us gaap:Assets"})
    CHECK_THAT(refused(taxonomy_concept, "USD", "CY2024"), Catch::Contains("is not TAXONOMY:CONCEPT"));
  for (const char* unit : {"", "USD'", "US D", "USD;--"})
    CHECK_THAT(refused("us-gaap:Assets", unit, "CY2024"), Catch::Contains("is not a unit"));
}

TEST_CASE("the query benchmark's 10_frame.sql is the command's SQL", "[frame]") {
  const auto words = [](const std::string& text) {  // comments out, whitespace collapsed
    std::istringstream in(text);
    std::string line, out, word;
    while (std::getline(in, line))
      if (line.rfind("--", 0) != 0) out += line + " ";
    std::istringstream split(out);
    std::string joined;
    while (split >> word) joined += word + " ";
    return joined;
  };
  std::ifstream file(std::filesystem::path(EDGARPIPE_TEST_DATA_DIR) / "../../benchmarks/queries/10_frame.sql");
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  CHECK(words(text.str()) == words(frame_sql(parse_frame_query("us-gaap:Assets", "USD", "CY2022Q4I"))));
}

TEST_CASE("statement_lines.csv seeds one row per line, each line of three statements", "[statements]") {
  const std::string sql = statement_lines_seed_sql();
  REQUIRE(sql.rfind("INSERT INTO statement_lines (statement, line, line_order, priority, taxonomy, concept, sign) "
                    "VALUES ('income_statement', 'revenue', 1, 1, 'us-gaap', 'Revenues', 1), ",
                    0) == 0);
  std::size_t rows = 0, outflows = 0;
  for (std::size_t at = 0; (at = sql.find("('", at)) != std::string::npos; ++at) ++rows;
  for (std::size_t at = 0; (at = sql.find(", -1)", at)) != std::string::npos; ++at) ++outflows;
  CHECK(rows == 62);
  CHECK(outflows == 4);  // capital expenditure, two dividends concepts, buybacks
  for (const char* statement : {"'income_statement'", "'balance_sheet'", "'cash_flow'"})
    CHECK(sql.find(statement) != std::string::npos);
}
