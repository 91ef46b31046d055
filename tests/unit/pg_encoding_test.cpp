// BatchEncoding::kPgCopy: the parser writes PostgreSQL binary COPY tuples into the batch. Every
// real sample is parsed both ways and its tuples, read back by a decoder written apart from the
// encoder (parse_helpers.hpp), must say exactly what the tagged values say.
#include <catch2/catch.hpp>
#include <filesystem>

#include "edgarpipe/pg_binary.hpp"
#include "parse_helpers.hpp"

using namespace edgarpipe;
using namespace edgarpipe::test;
namespace fs = std::filesystem;

TEST_CASE("PostgreSQL tuples of every sample say what its tagged values say", "[pg][batch]") {
  std::size_t files = 0, rows = 0;
  for (const auto& entry : fs::recursive_directory_iterator(EDGARPIPE_TEST_DATA_DIR)) {
    if (entry.path().extension() != ".json") continue;
    const std::string relative = fs::relative(entry.path(), EDGARPIPE_TEST_DATA_DIR).string();
    INFO(relative);
    const ParsedFile values = parse_sample(relative);
    // Small chunks: tuples move whole to the next chunk, and their length is patched there.
    const ParsedFile tuples = parse_sample(relative, 4096, BatchEncoding::kPgCopy);
    REQUIRE(values.outcome.ok);
    REQUIRE(tuples.outcome.ok);
    CHECK(tuples.outcome.rows == values.outcome.rows);
    for (const TableDef& table : all_tables()) {
      const auto expected_it = values.decoded.rows.find(table.id);
      const auto got_it = tuples.decoded.rows.find(table.id);
      REQUIRE((expected_it == values.decoded.rows.end()) == (got_it == tuples.decoded.rows.end()));
      if (got_it == tuples.decoded.rows.end()) continue;
      const auto& expected = expected_it->second;
      const auto& got = got_it->second;
      REQUIRE(got.size() == expected.size());
      for (std::size_t r = 0; r < got.size(); ++r)
        for (std::size_t c = 0; c < table.columns.size(); ++c) {
          const Cell want = as_pg_reads_it(table.columns[c], expected[r][c]);
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

TEST_CASE("a value its PostgreSQL column cannot take rejects the file at the value", "[pg][batch]") {
  const std::string json =
      R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1,"accn":"a","fy":3000000000}]}}}}})";
  const auto values = parse_bytes(json, "CIK0000000001.json");
  CHECK(values.outcome.ok);  // tagged values carry any int64; SQLite takes it
  const auto tuples =
      parse_bytes(json, "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kPgCopy);
  REQUIRE_FALSE(tuples.outcome.ok);
  CHECK(tuples.outcome.error == "facts.fiscal_year: \"3000000000\" does not fit INTEGER");
  CHECK(tuples.outcome.error_offset == static_cast<std::int64_t>(json.find("3000000000")));
  CHECK(tuples.decoded.count(TableId::kFacts) == 0);  // the file's rows are cut out of the batch
  CHECK(tuples.outcome.rows == 0);
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
