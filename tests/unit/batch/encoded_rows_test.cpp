// Encoded rows (BatchEncoding::kPgCopy, kTdsCells): the parser writes rows in the sink's own wire
// form. Every real sample is parsed each way and its rows, read back by decoders written apart
// from the encoders (parse_helpers.hpp), must say exactly what the tagged values say.
#include <catch2/catch.hpp>
#include <filesystem>

#include "../parse_helpers.hpp"
#include "edgarpipe/batch/pg_binary.hpp"

using namespace edgarpipe;
using namespace edgarpipe::test;
namespace fs = std::filesystem;

TEST_CASE("encoded rows of every sample say what its tagged values say", "[pg][mssql][batch]") {
  const auto encoding = GENERATE(BatchEncoding::kPgCopy, BatchEncoding::kTdsCells, BatchEncoding::kTdsCellsUtf8);
  INFO("encoding " << static_cast<int>(encoding));
  std::size_t files = 0, rows = 0;
  for (const auto& entry : fs::recursive_directory_iterator(EDGARPIPE_TEST_DATA_DIR)) {
    if (entry.path().extension() != ".json") continue;
    const std::string relative = fs::relative(entry.path(), EDGARPIPE_TEST_DATA_DIR).string();
    INFO(relative);
    const ParsedFile values = parse_sample(relative);
    // Small chunks: rows move whole to the next chunk, and their length is patched there.
    const ParsedFile encoded = parse_sample(relative, 4096, encoding);
    REQUIRE(values.outcome.ok);
    REQUIRE(encoded.outcome.ok);
    CHECK(encoded.outcome.rows == values.outcome.rows);
    for (const TableDef& table : all_tables()) {
      const auto expected_it = values.decoded.rows.find(table.id);
      const auto got_it = encoded.decoded.rows.find(table.id);
      REQUIRE((expected_it == values.decoded.rows.end()) == (got_it == encoded.decoded.rows.end()));
      if (got_it == encoded.decoded.rows.end()) continue;
      const auto& expected = expected_it->second;
      const auto& got = got_it->second;
      REQUIRE(got.size() == expected.size());
      for (std::size_t r = 0; r < got.size(); ++r)
        for (std::size_t c = 0; c < table.columns.size(); ++c) {
          const Cell want = as_encoded_reads_it(encoding, table.columns[c], expected[r][c]);
          if (got[r][c] != want) {
            INFO(table.name << "." << table.columns[c].name << " row " << r);
            CHECK(got[r][c].value_or("NULL") == want.value_or("NULL"));
          }
        }
      rows += got.size();
    }
    ++files;
  }
  CHECK(files == 29);
  CHECK(rows > 114000);
}

TEST_CASE("a value its column cannot take rejects the file at the value", "[pg][mssql][batch]") {
  const std::string json =
      R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1,"accn":"a","fy":3000000000}]}}}}})";
  const auto values = parse_bytes(json, "CIK0000000001.json");
  CHECK(values.outcome.ok);  // tagged values carry any int64; SQLite takes it
  const auto pg = parse_bytes(json, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kPgCopy);
  REQUIRE_FALSE(pg.outcome.ok);
  CHECK(pg.outcome.error == "facts.fiscal_year: \"3000000000\" does not fit INTEGER");
  CHECK(pg.outcome.error_offset == static_cast<std::int64_t>(json.find("3000000000")));
  CHECK(pg.decoded.count(TableId::kFacts) == 0);  // the file's rows are cut out of the batch
  CHECK(pg.outcome.rows == 0);
  const auto tds = parse_bytes(json, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kTdsCells);
  REQUIRE_FALSE(tds.outcome.ok);
  CHECK(tds.outcome.error == "facts.fiscal_year: \"3000000000\" does not fit INT");

  // SQL Server: a unit longer than its NVARCHAR(128) (FreeTDS would truncate it), and a value
  // DECIMAL(38,12) would round.
  const std::string unit(129, 'u');
  const std::string long_unit =
      R"({"cik":1,"facts":{"g":{"C":{"units":{")" + unit + R"(":[{"end":"2020-01-01","val":1,"accn":"a"}]}}}}})";
  const auto too_long =
      parse_bytes(long_unit, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kTdsCells);
  REQUIRE_FALSE(too_long.outcome.ok);
  CHECK_THAT(too_long.outcome.error, Catch::StartsWith("facts.unit: \"uuuu") &&
                                         Catch::EndsWith("is longer than the column: 129 characters, NVARCHAR(128)"));
  // At the unit's key: it was the offset of whatever value was written before (none here: -1).
  CHECK(too_long.outcome.error_offset == static_cast<std::int64_t>(long_unit.find(unit)));
  CHECK(parse_bytes(long_unit, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kPgCopy)
            .outcome.ok);
  const std::string fine =
      R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":0.1234567890123,"accn":"a"}]}}}}})";
  const auto rounded =
      parse_bytes(fine, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kTdsCells);
  REQUIRE_FALSE(rounded.outcome.ok);
  CHECK(rounded.outcome.error == "facts.value: \"0.1234567890123\" does not fit DECIMAL(38,12) exactly");
  CHECK(rounded.outcome.error_offset == static_cast<std::int64_t>(fine.find("0.1234567890123")));
}

TEST_CASE("a row with the wrong number of values is refused by the encoder", "[pg][batch]") {
  CollectingOutput out(4096);
  RowBatchWriter w(out, BatchEncoding::kPgCopy);
  w.reset(out.first());
  w.begin_file(0);
  w.begin_row(TableId::kEntities);
  w.integer(1);
  CHECK_THROWS_WITH(w.end_row(), "entities: 1 values for the table's 2 columns");
  w.begin_row(TableId::kEntities);
  w.integer(1);
  w.text("x");
  CHECK_THROWS_WITH(w.text("y"), "entities: more values than the table's 2 columns");
  w.begin_row(TableId::kEntities);
  CHECK_THROWS_WITH(w.text("x"), "entities.cik: \"x\" does not fit BIGINT");
}

TEST_CASE("SQL Server cells refuse NULL in a NOT NULL column (FreeTDS would abort)", "[mssql][batch]") {
  CollectingOutput out(4096);
  RowBatchWriter w(out, BatchEncoding::kTdsCells);
  w.reset(out.first());
  w.begin_file(0);
  w.begin_row(TableId::kEntities);
  CHECK_THROWS_WITH(w.null(), "entities.cik: NULL in a NOT NULL column");
}

TEST_CASE("NUMERIC from an integer equals NUMERIC from its text", "[pg]") {
  for (const std::int64_t v : {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{9999},
                               std::int64_t{10000}, std::int64_t{-10001}, std::int64_t{100000000},
                               std::int64_t{2830067000000}, std::int64_t{-121983000000}, INT64_MAX, INT64_MIN}) {
    std::string from_integer, from_text;
    pg::append_numeric(v, from_integer);
    REQUIRE(pg::append_numeric(std::to_string(v), from_text));
    INFO(v);
    CHECK(from_integer == from_text);
  }
}
