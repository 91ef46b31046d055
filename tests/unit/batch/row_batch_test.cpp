// RowBatchWriter/Reader: values round-trip, records move whole to the next chunk, and a rejected
// file leaves no rows behind in the chunk it began in.
#include <catch2/catch.hpp>
#include <limits>

#include "../parse_helpers.hpp"

using namespace edgarpipe;
using namespace edgarpipe::test;

namespace {
void write_entity(RowBatchWriter& w, std::int64_t cik, std::string_view name) {
  w.begin_row(TableId::kEntities);
  w.integer(cik);
  w.text(name);
  w.end_row();
}
}  // namespace

TEST_CASE("row batch values round-trip exactly", "[batch]") {
  CollectingOutput out(4096);
  RowBatchWriter w(out);
  w.reset(out.first());
  w.begin_file(5);
  w.begin_row(TableId::kFacts);
  w.integer(std::numeric_limits<std::int64_t>::min());
  w.text("us-gaap");
  w.text("");
  w.text("USD/shares");
  w.null();
  w.text("2024-09-28");
  w.decimal(0.00001, "0.00001");
  w.text("0000320193-24-000123");
  w.integer(2024);
  w.null();
  w.text("10-K");
  w.text("2024-11-01");
  w.text("CY2024Q3I");
  w.end_row();
  FileEndInfo end;
  end.file_index = 5;
  end.dataset = Dataset::kCompanyfacts;
  end.cik = 320193;
  end.rows = 1;
  end.unknown_columns = 2;
  w.end_file(end);
  out.finish(w.used());
  const Decoded d = decode(out.chunks);
  REQUIRE(d.file_begins == 1);
  REQUIRE(d.rows.at(TableId::kFacts).size() == 1);
  CHECK(d.rows.at(TableId::kFacts)[0] ==
        Row{std::to_string(std::numeric_limits<std::int64_t>::min()), "us-gaap", "", "USD/shares", std::nullopt,
            "2024-09-28", "0.00001", "0000320193-24-000123", "2024", std::nullopt, "10-K", "2024-11-01", "CY2024Q3I"});
  REQUIRE(d.ends.size() == 1);
  CHECK(d.ends[0].file_index == 5);
  CHECK(d.ends[0].cik == 320193);
  CHECK(d.ends[0].dataset == Dataset::kCompanyfacts);
  CHECK(d.ends[0].unknown_columns == 2);
  CHECK(d.ends[0].status == FileStatus::kLoaded);
  // Skipping a row by its tags (the null: sink, rejected files) ends where reading it ends.
  RowBatchReader reader(out.chunks[0].data(), out.chunks[0].size());
  Record r;
  while (reader.next(r) && r.kind != RecordKind::kRow) {
  }
  REQUIRE(r.kind == RecordKind::kRow);
  ValueCursor cursor(r.values);
  for (std::size_t i = 0; i < table_def(TableId::kFacts).columns.size(); ++i) cursor.next();
  CHECK(skip_row_values(TableId::kFacts, r.values) == cursor.position());
}

TEST_CASE("text of every short length round-trips (copied without memcpy up to 32 bytes)", "[batch]") {
  CollectingOutput out(1 << 16);
  RowBatchWriter w(out);
  w.reset(out.first());
  w.begin_file(1);
  std::string alphabet;
  for (int i = 0; i < 48; ++i) alphabet += static_cast<char>('A' + i % 26 + (i / 26) * 32);
  for (std::size_t n = 0; n <= 40; ++n) write_entity(w, static_cast<std::int64_t>(n), alphabet.substr(3, n));
  w.end_file(FileEndInfo{});
  out.finish(w.used());
  const Decoded d = decode(out.chunks);
  REQUIRE(d.count(TableId::kEntities) == 41);
  for (std::size_t n = 0; n <= 40; ++n) CHECK(*d.rows.at(TableId::kEntities)[n][1] == alphabet.substr(3, n));
}

TEST_CASE("a record that does not fit moves whole to the next chunk, and files spanning chunks are flagged",
          "[batch]") {
  CollectingOutput out(256);
  RowBatchWriter w(out);
  w.reset(out.first());
  w.begin_file(1);
  for (int i = 0; i < 50; ++i) write_entity(w, i, "a name of some length to fill chunks");
  FileEndInfo end;
  end.file_index = 1;
  w.end_file(end);
  out.finish(w.used());
  REQUIRE(out.chunks.size() > 5);
  // The file began in the first chunk and continues through every later one.
  for (std::size_t i = 0; i + 1 < out.chunks.size(); ++i) CHECK(out.open_at_flush[i] == 0);
  CHECK(out.open_at_flush.back() == RowBatchWriter::kNoOpenFile);
  const Decoded d = decode(out.chunks);
  REQUIRE(d.count(TableId::kEntities) == 50);
  for (int i = 0; i < 50; ++i) CHECK(*d.rows.at(TableId::kEntities)[i][0] == std::to_string(i));
}

TEST_CASE("a flushed chunk says where the file that continues past it begins", "[batch]") {
  // Two whole files, then one that spans chunks: a writer takes the first two from the first
  // chunk without waiting for the second.
  CollectingOutput out(512);
  RowBatchWriter w(out);
  w.reset(out.first());
  FileEndInfo end;
  for (std::uint32_t f = 1; f <= 2; ++f) {
    w.begin_file(f);
    write_entity(w, f, "small");
    end.file_index = f;
    w.end_file(end);
  }
  const std::size_t third_begins = w.used();
  w.begin_file(3);
  for (int i = 0; i < 40; ++i) write_entity(w, i, "a name of some length to fill chunks");
  end.file_index = 3;
  w.end_file(end);
  out.finish(w.used());
  REQUIRE(out.chunks.size() > 2);
  CHECK(out.open_at_flush[0] == third_begins);
  for (std::size_t i = 1; i + 1 < out.chunks.size(); ++i) CHECK(out.open_at_flush[i] == 0);
  // The bytes before the offset hold exactly the two whole files.
  const std::vector<std::vector<std::byte>> whole{
      std::vector<std::byte>(out.chunks[0].begin(), out.chunks[0].begin() + static_cast<std::ptrdiff_t>(third_begins))};
  const Decoded d = decode(whole);
  CHECK(d.file_begins == 2);
  CHECK(d.ends.size() == 2);
}

TEST_CASE("reject_file drops the file's rows from the chunk it began in", "[batch]") {
  CollectingOutput out(4096);
  RowBatchWriter w(out);
  w.reset(out.first());
  w.begin_file(1);
  write_entity(w, 1, "good");
  FileEndInfo good;
  good.file_index = 1;
  w.end_file(good);
  w.begin_file(2);
  write_entity(w, 2, "bad");
  w.begin_row(TableId::kEntities);  // a partial row when the error strikes
  w.integer(3);
  FileEndInfo bad;
  bad.file_index = 2;
  bad.status = FileStatus::kRejected;
  bad.error = "broken";
  bad.error_offset = 17;
  w.reject_file(bad);
  out.finish(w.used());
  const Decoded d = decode(out.chunks);
  REQUIRE(d.count(TableId::kEntities) == 1);
  CHECK(*d.rows.at(TableId::kEntities)[0][1] == "good");
  REQUIRE(d.ends.size() == 2);
  CHECK(d.file_begins == 2);
  CHECK(d.ends[1].status == FileStatus::kRejected);
  CHECK(d.end_errors[1] == "broken");
  CHECK(d.ends[1].error_offset == 17);
}

TEST_CASE("a single row larger than a chunk is refused, not truncated", "[batch]") {
  CollectingOutput out(128);
  RowBatchWriter w(out);
  w.reset(out.first());
  w.begin_file(1);
  REQUIRE_THROWS_AS(write_entity(w, 1, std::string(500, 'x')), RowTooLarge);
}

TEST_CASE("a kept row prefix repeats into later rows exactly as if written, in every encoding", "[batch]") {
  // Facts share their first four values (cik, taxonomy, concept, unit) within a unit; the parser
  // keeps them encoded once and copies them. Small chunks make some rows spill, whose prefix is not
  // kept: the next row writes the values again.
  for (const BatchEncoding encoding : {BatchEncoding::kValues, BatchEncoding::kPgCopy, BatchEncoding::kTdsCells}) {
    INFO(static_cast<int>(encoding));
    const auto write_rows = [&](bool repeat) {
      CollectingOutput out(512);
      RowBatchWriter w(out, encoding);
      w.reset(out.first());
      w.begin_file(0);
      RowBatchWriter::RowPrefix prefix;
      for (int i = 0; i < 40; ++i) {
        w.begin_row(TableId::kFacts);
        if (!(repeat && w.repeat_prefix(prefix))) {
          w.integer(320193);
          w.text("us-gaap");
          w.text("AccountsPayableCurrent");
          w.text("USD");
          w.keep_prefix(prefix, 4);
        }
        w.null();
        w.text("2024-09-28");
        w.integer(i);
        w.text("0000320193-24-000123");
        w.integer(2024);
        w.text("FY");
        w.text("10-K");
        w.text("2024-11-01");
        w.null();
        w.end_row();
      }
      FileEndInfo end;
      end.rows = 40;
      w.end_file(end);
      out.finish(w.used());
      return decode(out.chunks, encoding);
    };
    const Decoded repeated = write_rows(true);
    const Decoded written = write_rows(false);
    REQUIRE(repeated.rows.at(TableId::kFacts).size() == 40);
    CHECK(repeated.rows == written.rows);
    CHECK(*repeated.rows.at(TableId::kFacts)[39][2] == "AccountsPayableCurrent");
  }
}

TEST_CASE("a cancelled row leaves nothing behind, also when it had spilled past its chunk", "[batch]") {
  // The parser writes plain facts as it reads them and cancels the row when a fact is not plain;
  // the rows around it, and the chunk boundaries, must be as if it had never begun.
  for (const BatchEncoding encoding : {BatchEncoding::kValues, BatchEncoding::kPgCopy, BatchEncoding::kTdsCells}) {
    INFO(static_cast<int>(encoding));
    CollectingOutput out(256);
    RowBatchWriter w(out, encoding);
    w.reset(out.first());
    w.begin_file(0);
    write_entity(w, 1, "first");
    w.begin_row(TableId::kEntities);  // cancelled inside the chunk
    w.integer(2);
    w.cancel_row();
    w.begin_row(TableId::kEntities);  // cancelled after spilling: its text alone outgrows the chunk
    w.integer(3);
    w.text(std::string(390, 'x'));  // within NVARCHAR(400), beyond the chunk in every encoding
    w.cancel_row();
    write_entity(w, 4, "last");
    FileEndInfo end;
    end.rows = 2;
    w.end_file(end);
    out.finish(w.used());
    const Decoded d = decode(out.chunks, encoding);
    REQUIRE(d.rows.at(TableId::kEntities).size() == 2);
    CHECK(d.rows.at(TableId::kEntities)[0] == Row{"1", "first"});
    CHECK(d.rows.at(TableId::kEntities)[1] == Row{"4", "last"});
    REQUIRE(d.ends.size() == 1);
    CHECK(d.ends[0].status == FileStatus::kLoaded);
  }
}
