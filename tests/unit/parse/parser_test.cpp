// EdgarParser on the real SEC samples (exact row counts and chosen values, computed independently
// from the JSON with Python's json module) and on malformed input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "../parse_helpers.hpp"
#include "edgarpipe/core/utf8.hpp"

using namespace edgarpipe;
using namespace edgarpipe::test;

namespace {

std::string col(const Row& r, TableId t, std::string_view name) {
  const Cell& c = r.at(column_index(t, name));
  return c ? *c : "<NULL>";
}

}  // namespace

TEST_CASE("a document is known by its name's key: a cik that disagrees, or no key at all, is refused",
          "[parser][malformed]") {
  const std::string fund = read_file(std::string(EDGARPIPE_TEST_DATA_DIR) + "/submissions/CIK0001800903.json");
  const auto other_name = parse_bytes(fund, "CIK0000000001.json");
  CHECK_FALSE(other_name.outcome.ok);
  CHECK(other_name.outcome.error == "the document's cik 1800903 is not the CIK of its file name (1)");
  CHECK(parse_bytes(fund, "renamed.json").outcome.ok);  // no name: the document's cik is the key
  CHECK(parse_bytes(fund, "renamed.json").outcome.cik == 1800903);
  const auto page = parse_bytes(R"({"accessionNumber":["0001800903-20-000001"],"form":["D"]})", "renamed-page.json");
  CHECK_FALSE(page.outcome.ok);
  CHECK_THAT(page.outcome.error, Catch::StartsWith("no CIK: the file name is not an SEC name"));
}

TEST_CASE("all submissions samples: exact row counts per table", "[parser][samples]") {
  std::size_t companies = 0, tickers = 0, former = 0, pages = 0, filings = 0, files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(EDGARPIPE_TEST_DATA_DIR) + "/submissions")) {
    const auto parsed = parse_sample("submissions/" + entry.path().filename().string());
    INFO(entry.path().string() << ": " << parsed.outcome.error);
    REQUIRE(parsed.outcome.ok);
    REQUIRE(parsed.outcome.dataset == Dataset::kSubmissions);
    companies += parsed.decoded.count(TableId::kCompanies);
    tickers += parsed.decoded.count(TableId::kCompanyTickers);
    former += parsed.decoded.count(TableId::kFormerNames);
    pages += parsed.decoded.count(TableId::kSubmissionPages);
    filings += parsed.decoded.count(TableId::kFilings);
    ++files;
  }
  CHECK(files == 23);
  CHECK(companies == 19);
  CHECK(tickers == 26);
  CHECK(former == 31);
  CHECK(pages == 12);
  CHECK(filings == 13888);
}

TEST_CASE("Apple's main file: company, tickers, former names, pages and a 10-K filing", "[parser][samples]") {
  const auto p = parse_sample("submissions/CIK0000320193.json");
  REQUIRE(p.outcome.ok);
  REQUIRE(p.outcome.cik == 320193);
  const auto& company = p.decoded.rows.at(TableId::kCompanies).at(0);
  const auto C = TableId::kCompanies;
  CHECK(col(company, C, "cik") == "320193");
  CHECK(col(company, C, "name") == "Apple Inc.");
  CHECK(col(company, C, "ein") == "942404110");
  CHECK(col(company, C, "fiscal_year_end") == "0927");
  CHECK(col(company, C, "sic") == "3571");
  CHECK(col(company, C, "owner_org") == "06 Technology");
  CHECK(col(company, C, "lei") == "<NULL>");
  CHECK(col(company, C, "description") == "");
  CHECK(col(company, C, "business_city") == "CUPERTINO");
  CHECK(col(company, C, "mailing_street2") == "<NULL>");
  CHECK(col(company, C, "mailing_is_foreign_location") == "0");

  const auto& ticker = p.decoded.rows.at(TableId::kCompanyTickers).at(0);
  CHECK(ticker == Row{"320193", "0", "AAPL", "Nasdaq"});

  const auto& former = p.decoded.rows.at(TableId::kFormerNames);
  REQUIRE(former.size() == 3);
  CHECK(former[0] == Row{"320193", "0", "APPLE INC", "2007-01-10 05:00:00", "2019-08-05 04:00:00"});

  const auto& page = p.decoded.rows.at(TableId::kSubmissionPages).at(0);
  CHECK(page == Row{"320193", "CIK0000320193-submissions-001.json", "1145", "1994-01-26", "2014-09-21"});

  const Row* tenk = find_row(p.decoded, TableId::kFilings, 1, "0000320193-24-000123");
  REQUIRE(tenk);
  const auto F = TableId::kFilings;
  CHECK(col(*tenk, F, "filing_date") == "2024-11-01");
  CHECK(col(*tenk, F, "report_date") == "2024-09-28");
  CHECK(col(*tenk, F, "acceptance_datetime") == "2024-11-01 10:01:36");
  CHECK(col(*tenk, F, "form") == "10-K");
  CHECK(col(*tenk, F, "core_type") == "XBRL");
  CHECK(col(*tenk, F, "size") == "9759333");
  CHECK(col(*tenk, F, "is_inline_xbrl") == "1");
  CHECK(col(*tenk, F, "is_xbrl_numeric") == "<NULL>");  // column absent in this file
  CHECK(col(*tenk, F, "primary_document") == "aapl-20240928.htm");
}

TEST_CASE("empty strings and nulls stay apart, per field", "[parser][samples]") {
  const auto buffett = parse_sample("submissions/CIK0000315090.json");
  REQUIRE(buffett.outcome.ok);
  const auto& c = buffett.decoded.rows.at(TableId::kCompanies).at(0);
  CHECK(col(c, TableId::kCompanies, "ein") == "<NULL>");
  CHECK(col(c, TableId::kCompanies, "fiscal_year_end") == "<NULL>");
  CHECK(col(c, TableId::kCompanies, "sic") == "");
  CHECK(col(c, TableId::kCompanies, "owner_org") == "");
  CHECK(col(c, TableId::kCompanies, "entity_type") == "other");
  // reportDate "" -> NULL (a DATE column); act "" stays "" (a text column).
  bool saw_null_report_date = false, saw_empty_act = false;
  for (const Row& f : buffett.decoded.rows.at(TableId::kFilings)) {
    saw_null_report_date |= !f[filings_col::report_date].has_value();
    saw_empty_act |= f[filings_col::act] && f[filings_col::act]->empty();
  }
  CHECK(saw_null_report_date);
  CHECK(saw_empty_act);

  // The literal string "null" is text, not NULL.
  const auto marvell = parse_sample("submissions/CIK0001835632.json");
  REQUIRE(find_row(marvell.decoded, TableId::kFilings, filings_col::primary_doc_description, "null"));
}

TEST_CASE("schema drift: old files without core_type, new files with isXBRLNumeric", "[parser][samples]") {
  const auto murphy = parse_sample("submissions/CIK0000717423.json");
  REQUIRE(murphy.outcome.ok);
  REQUIRE(murphy.outcome.cik == 717423);  // "717423": unpadded string CIK
  for (const Row& f : murphy.decoded.rows.at(TableId::kFilings)) REQUIRE_FALSE(f[filings_col::core_type].has_value());
  CHECK(col(murphy.decoded.rows.at(TableId::kCompanies).at(0), TableId::kCompanies, "owner_org") == "<NULL>");

  const auto unicycive = parse_sample("submissions/CIK0001766140.json");
  REQUIRE(unicycive.outcome.ok);
  std::size_t nulls = 0, values = 0;
  for (const Row& f : unicycive.decoded.rows.at(TableId::kFilings))
    (f[filings_col::is_xbrl_numeric] ? values : nulls) += 1;
  CHECK(nulls == 266);
  CHECK(values == 31);
  CHECK(col(unicycive.decoded.rows.at(TableId::kCompanies).at(0), TableId::kCompanies, "category") ==
        "<br>Emerging growth company");
}

TEST_CASE("overflow pages take their CIK from the file name", "[parser][samples]") {
  const auto p = parse_sample("submissions/CIK0001318605-submissions-001.json");
  REQUIRE(p.outcome.ok);
  CHECK(p.outcome.cik == 1318605);
  CHECK(p.decoded.count(TableId::kFilings) == 720);
  CHECK(p.decoded.count(TableId::kCompanies) == 0);
  for (const Row& f : p.decoded.rows.at(TableId::kFilings)) REQUIRE(*f[0] == "1318605");
}

TEST_CASE("zero-filing entity and odd names", "[parser][samples]") {
  const auto p = parse_sample("submissions/CIK0000350001.json");
  REQUIRE(p.outcome.ok);
  CHECK(p.decoded.count(TableId::kFilings) == 0);
  CHECK(p.decoded.count(TableId::kFormerNames) == 19);
  const std::string name = col(p.decoded.rows.at(TableId::kCompanies).at(0), TableId::kCompanies, "name");
  CHECK(name.find('`') != std::string::npos);
  CHECK(name.find('\\') != std::string::npos);  // an escaped backslash, decoded
}

TEST_CASE("companyfacts: exact values, decimals as written, null fy, IFRS with a string CIK", "[parser][samples]") {
  std::size_t facts = 0, entities = 0;
  for (const char* f : {"CIK0000320193.json", "CIK0000717423.json", "CIK0001045810.json", "CIK0001652044.json",
                        "CIK0001835632.json", "reformatted/CIK0001997711.json"}) {
    const auto p = parse_sample(std::string("companyfacts/") + f);
    INFO(f << ": " << p.outcome.error);
    REQUIRE(p.outcome.ok);
    REQUIRE(p.outcome.dataset == Dataset::kCompanyfacts);
    facts += p.decoded.count(TableId::kFacts);
    entities += p.decoded.count(TableId::kEntities);
  }
  CHECK(facts == 98502);
  CHECK(entities == 6);

  const auto apple = parse_sample("companyfacts/CIK0000320193.json");
  CHECK(apple.decoded.count(TableId::kFacts) == 23259);
  CHECK(apple.decoded.rows.at(TableId::kEntities).at(0) == Row{"320193", "Apple Inc."});
  const auto X = TableId::kFacts;
  bool found_eps = false, found_tiny = false, found_instant = false;
  for (const Row& r : apple.decoded.rows.at(X)) {
    if (col(r, X, "concept") == "EarningsPerShareBasic" && col(r, X, "period_end") == "2024-09-28" &&
        col(r, X, "period_start") == "2023-10-01" && col(r, X, "accession_number") == "0000320193-24-000123") {
      found_eps = true;
      CHECK(col(r, X, "value") == "6.11");
      CHECK(col(r, X, "unit") == "USD/shares");
      CHECK(col(r, X, "fiscal_year") == "2024");
      CHECK(col(r, X, "fiscal_period") == "FY");
      CHECK(col(r, X, "frame") == "CY2024");
      CHECK(col(r, X, "filed") == "2024-11-01");
    }
    if (col(r, X, "value") == "0.00001") found_tiny = true;  // exact text, not 1e-05
    if (col(r, X, "period_start") == "<NULL>") found_instant = true;
  }
  CHECK(found_eps);
  CHECK(found_tiny);
  CHECK(found_instant);

  const auto alphabet = parse_sample("companyfacts/CIK0001652044.json");
  std::size_t null_fy = 0, null_fp = 0;
  for (const Row& r : alphabet.decoded.rows.at(X)) {
    null_fy += col(r, X, "fiscal_year") == "<NULL>";
    null_fp += col(r, X, "fiscal_period") == "<NULL>";
  }
  CHECK(null_fy == 82);
  CHECK(null_fp == 82);

  const auto lpa = parse_sample("companyfacts/reformatted/CIK0001997711.json");
  REQUIRE(lpa.outcome.ok);
  CHECK(lpa.outcome.cik == 1997711);
  std::size_t ifrs_null_labels = 0;
  for (const Row& r : lpa.decoded.rows.at(TableId::kConcepts))
    if (*r[0] == "ifrs-full") {
      CHECK_FALSE(r[2].has_value());
      ++ifrs_null_labels;
    }
  CHECK(ifrs_null_labels == 177);
}

TEST_CASE("companyfacts edge shapes: {}, empty facts, facts before cik, unicode escapes", "[parser]") {
  const auto empty = parse_bytes("{}", "companyfacts/CIK0000000042.json");
  REQUIRE(empty.outcome.ok);
  CHECK(empty.outcome.dataset == Dataset::kCompanyfacts);
  CHECK(empty.outcome.cik == 42);  // from the file name, for ingest_files
  CHECK(empty.decoded.rows.empty());

  const auto no_facts = parse_bytes(R"({"cik":7,"entityName":"Seven","facts":{}})", "CIK0000000007.json");
  REQUIRE(no_facts.outcome.ok);
  CHECK(no_facts.decoded.rows.at(TableId::kEntities).at(0) == Row{"7", "Seven"});

  const auto late = parse_bytes(
      R"({"facts":{"dei":{"X":{"label":"L","description":null,"units":{"shares":[{"end":"2020-01-31","val":-5,"accn":"a","fy":null,"fp":null,"form":"8-K","filed":"2020-02-01"}]}}}},"entityName":"Late","cik":"0000000099"})",
      "whatever.json");
  REQUIRE(late.outcome.ok);
  CHECK(late.decoded.rows.at(TableId::kFacts).at(0) == Row{"99", "dei", "X", "shares", std::nullopt, "2020-01-31", "-5",
                                                           "a", std::nullopt, std::nullopt, "8-K", "2020-02-01",
                                                           std::nullopt});

  // No "cik" at all: the facts take the file name's CIK (this once threw out of the parser).
  const std::string no_cik =
      R"({"entityName":"Nameless","facts":{"dei":{"X":{"units":{"USD":[{"end":"2020-01-31","val":1,"accn":"a"}]}}}}})";
  const auto named = parse_bytes(no_cik, "companyfacts/CIK0000000042.json");
  REQUIRE(named.outcome.ok);
  CHECK(*named.decoded.rows.at(TableId::kFacts).at(0)[0] == "42");
  CHECK(named.decoded.rows.at(TableId::kEntities).at(0) == Row{"42", "Nameless"});
  const auto unnamed = parse_bytes(no_cik, "companyfacts/facts.json");
  REQUIRE_FALSE(unnamed.outcome.ok);
  CHECK(unnamed.outcome.error == "missing \"cik\" in a companyfacts file");

  // Bad JSON met while looking for a late "cik" is refused as such (rewinding the dead iterator
  // dereferenced a null pointer once).
  const auto broken =
      parse_bytes(R"({"facts":{"dei":{}},"entityName":"x" "cik":1})", "companyfacts/CIK0000000042.json");
  REQUIRE_FALSE(broken.outcome.ok);
  CHECK(broken.outcome.error.rfind("invalid JSON: ", 0) == 0);
  CHECK(broken.decoded.rows.empty());

  const auto escaped = parse_bytes(R"({"cik":1,"entityName":"Caf\u00e9 \ud83d\ude00 \"q\"","facts":{}})", "x.json");
  REQUIRE(escaped.outcome.ok);
  CHECK(*escaped.decoded.rows.at(TableId::kEntities).at(0)[1] == "Caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\"");
}

TEST_CASE("keys and values with escapes or spaces around the colon read the same as plain ones", "[parser]") {
  // The parser reads keys back from the value's first byte and skips its escape check for
  // strings before the next backslash: escaped keys, escaped values after plain ones, spaces and
  // newlines around colons, and a rewind (facts before cik) must all read exactly.
  const std::string plain =
      R"({"cik":3,"entityName":"A \"b\"","facts":{"us-gaap":{"Concept":{"label":"L\\M","units":{"USD":[{"end":"2020-01-31","val":1.5,"accn":"x","form":"10-K"}]}}}}})";
  const std::string spaced =
      "{\"cik\" : 3 ,\n \"entityName\"\n:\t\"A \\\"b\\\"\", \"facts\" :{\"us-gaap\" : {\"C\\u006fncept\":"
      "{\"l\\u0061bel\" : \"L\\\\M\", \"units\":{\"USD\":[{\"end\" :\"2020-01-31\",\"val\": 1.5 ,\"accn\"\r\n: \"x\","
      "\"form\":\"10-K\"}]}}}}}";
  const std::string late =
      R"({"facts":{"us-gaap":{"C\u006fncept":{"label":"L\\M","units":{"USD":[{"end":"2020-01-31","val":1.5,"accn":"x","form":"10-K"}]}}}},"entityName":"A \"b\"","cik":3})";
  const auto expected = parse_bytes(plain, "x.json");
  REQUIRE(expected.outcome.ok);
  CHECK(*expected.decoded.rows.at(TableId::kEntities).at(0)[1] == "A \"b\"");
  CHECK(*expected.decoded.rows.at(TableId::kConcepts).at(0)[2] == "L\\M");
  for (const std::string& bytes : {spaced, late}) {
    INFO(bytes);
    const auto got = parse_bytes(bytes, "x.json");
    REQUIRE(got.outcome.ok);
    CHECK(got.decoded.rows == expected.decoded.rows);
  }
}

TEST_CASE("filing columns with spaces, escapes, nulls and booleans read the same as plain ones", "[parser]") {
  // Plain elements (a string without escape or space before its separator, a canonical integer)
  // are read in read_column's own loop; every other element goes through the general cell path.
  const std::string plain = R"({"accessionNumber":["a-1","a-2","a-3"],"filingDate":["2020-01-31","","2021-02-28"],)"
                            R"("size":[1,0,12],"form":["10-K","8-K","4"]})";
  const std::string unusual =
      "{\"accessionNumber\" : [ \"a-1\" ,\n\"a\\u002d2\",\"a-3\"\t] , \"filingDate\":[\"2020-01-31\" , \"\","
      "\"2021-02-28\"],\"size\":[1 , false,12],\"form\":[\"10-K\",\"8-K\" ,\"4\"]}";
  const auto expected = parse_bytes(plain, "CIK0000000001-submissions-001.json");
  REQUIRE(expected.outcome.ok);
  CHECK(expected.decoded.rows.at(TableId::kFilings).size() == 3);
  const auto got = parse_bytes(unusual, "CIK0000000001-submissions-001.json");
  REQUIRE(got.outcome.ok);
  CHECK(got.decoded.rows == expected.decoded.rows);
  // A bad date is refused at its opening quote on either path.
  for (const std::string& bad : {std::string(R"({"accessionNumber":["a"],"filingDate":["2020-02-30"]})"),
                                 std::string(R"({"accessionNumber":["a"],"filingDate":[ "2020-02-30" ]})")}) {
    const auto p = parse_bytes(bad, "CIK0000000001-submissions-001.json");
    REQUIRE_FALSE(p.outcome.ok);
    CHECK(p.outcome.error_offset == static_cast<std::int64_t>(bad.find("\"2020")));
  }
}

TEST_CASE("an escape at every position of a string is seen, in facts and in filing columns", "[parser]") {
  // Backslashes are looked for 16 bytes at a time, with the last block masked to the string: an
  // escape the check missed would put the raw backslash into the row.
  for (std::size_t at = 0; at <= 40; ++at) {
    std::string raw(40, 'a'), text(40, 'a');
    raw.insert(at, "\\\"");  // \" in the JSON
    text.insert(at, "\"");
    INFO(at);
    const auto facts = parse_bytes(
        R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[{"end":"2020-01-31","val":1,"accn":"x","fy":2020,"fp":"FY","form":")" +
            raw + R"(","filed":"2020-02-01"}]}}}}})",
        "x.json");
    REQUIRE(facts.outcome.ok);
    CHECK(*facts.decoded.rows.at(TableId::kFacts).at(0)[10] == text);
    const auto page =
        parse_bytes(R"({"accessionNumber":["a"],"form":[")" + raw + R"("]})", "CIK0000000001-submissions-001.json");
    REQUIRE(page.outcome.ok);
    CHECK(col(page.decoded.rows.at(TableId::kFilings).at(0), TableId::kFilings, "form") == text);
  }
}

TEST_CASE("a key given twice in one object is refused at its second place, in every object the walk reads",
          "[parser][malformed]") {
  const auto refused = [](const std::string& json, const std::string& reason, const std::string& second) {
    INFO(json);
    for (const BatchEncoding encoding : {BatchEncoding::kValues, BatchEncoding::kPgCopy, BatchEncoding::kTdsCells}) {
      const auto got = parse_bytes(json, "x.json", Dataset::kUnknown, false, 1 << 20, encoding);
      REQUIRE_FALSE(got.outcome.ok);
      CHECK_THAT(got.outcome.error, Catch::Contains(reason) && Catch::Contains("JSON keys must be unique"));
      CHECK(got.outcome.error_offset == static_cast<std::int64_t>(json.rfind(second) + 1));
    }
  };
  const std::string fact_head = R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[{"end":"2020-01-31","accn":"x",)";
  refused(fact_head + R"("val":5,"val":1.5}]}}}}})", R"(key "val" given twice in a fact)", R"("val")");
  refused(fact_head + R"("val":1,"form":"10-K","form":"10-Q"}]}}}}})", R"(key "form" given twice)", R"("form")");
  // A value the encoding refuses (SQL Server's accession is NVARCHAR(32)) and its key again: the
  // duplicate is the reason, in every encoding.
  refused(R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[{"end":"2020-01-31","val":1,"accn":")" +
              std::string(40, '0') + R"(","accn":"x"}]}}}}})",
          R"(key "accn" given twice in a fact)", R"("accn")");
  refused(R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[]},"units":{}}}}})",
          R"(key "units" given twice in facts.dei.C)", R"("units")");
  refused(R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[],"USD":[]}}}}})",
          R"(key "USD" given twice in facts.dei.C.units)", R"("USD")");
  refused(R"({"cik":3,"facts":{"dei":{"C":{},"D":{},"C":{}}}})", R"(key "C" given twice in facts.dei)", R"("C")");
  refused(R"({"cik":3,"facts":{"dei":{},"dei":{}}})", R"(key "dei" given twice in facts)", R"("dei")");
  refused(R"({"cik":3,"entityName":"a","entityName":"b","facts":{}})", R"(key "entityName" given twice)",
          R"("entityName")");
  refused(R"({"cik":3,"name":"a","sic":"1","name":"b"})", R"(key "name" given twice in the document's object)",
          R"("name")");
  refused(R"({"cik":3,"cik":3,"name":"a"})", R"(key "cik" given twice)", R"("cik")");
  refused(R"({"cik":3,"name":"a","addresses":{"mailing":{"city":"x","city":"y"}}})",
          R"(key "city" given twice in addresses.mailing)", R"("city")");
  refused(R"({"cik":3,"name":"a","filings":{"recent":{"form":["D"],"form":["D"]}}})",
          R"(key "form" given twice in filings.recent)", R"("form")");
  refused(R"({"cik":3,"name":"a","formerNames":[{"name":"a","name":"b"}]})",
          R"(key "name" given twice in formerNames[])", R"("name")");
  refused(R"({"cik":3,"name":"a","tickers":[],"tickers":[]})", R"(key "tickers" given twice)", R"("tickers")");
  // The same key in two objects, and a key written with an escape, are not duplicates.
  const auto fine = parse_bytes(
      R"({"cik":3,"name":"a","addresses":{"mailing":{"city":"x"},"business":{"city":"y"}},"na\u006de2":1})", "x.json");
  CHECK(fine.outcome.ok);
  const auto escaped = parse_bytes(R"({"cik":3,"name":"a","na\u006de":"b"})", "x.json");
  CHECK_THAT(escaped.outcome.error, Catch::Contains(R"(key "name" given twice)"));
}

TEST_CASE("a UTF-8 byte order mark is named as one, at byte 0", "[parser][malformed]") {
  const auto got = parse_bytes("\xEF\xBB\xBF{\"cik\":1,\"entityName\":\"a\",\"facts\":{}}", "x.json");
  REQUIRE_FALSE(got.outcome.ok);
  CHECK_THAT(got.outcome.error, Catch::StartsWith("a UTF-8 byte order mark (EF BB BF) begins the file"));
  CHECK(got.outcome.error_offset == 0);
}

TEST_CASE("the structural index walk: grammar refused where it breaks, numbers as simdjson reads them",
          "[parser][malformed]") {
  // Documents are walked over simdjson's structural index, not through On-Demand: the walker
  // checks the grammar itself where it reads, and steps over other values by bracket depth.
  const std::string head = R"({"cik":1,"facts":{"g":{"C":{"label":"L","units":{"U":[)";
  const std::string good_fact = R"({"end":"2020-01-01","val":1,"accn":"a"})";
  struct Case {
    const char* what;
    std::string bytes;
    std::string reason;
    std::string at;  // the offset is that of the first occurrence of this text after `head`
  };
  const Case cases[] = {
      {"missing comma between facts", head + good_fact + R"({"end":"2020-01-02","val":1,"accn":"a"}]}}}}})",
       "expected ',' or ']'", R"({"end":"2020-01-02")"},
      {"missing colon", head + R"({"end" "2020-01-01"}]}}}}})", "expected ':'", "\"2020"},
      {"trailing comma", head + R"({"end":"2020-01-01",}]}}}}})", "expected a string key", "}"},
      {"no value", head + R"({"end":,"val":1}]}}}}})", "expected a value", ","},
      {"bad literal", head + R"({"end":"2020-01-01","val":nul,"accn":"a"}]}}}}})", "not a JSON value", "nul"},
      {"bad literal in a skipped value", head + R"({"x":[tru],"end":"2020-01-01","val":1,"accn":"a"}]}}}}})", "", ""},
      {"NUL byte in a skipped value",
       head + R"({"x":[1,)" + std::string(1, '\0') + R"(],"end":"2020-01-01","val":1,"accn":"a"}]}}}}})", "", ""},
      {"NUL byte after a value",
       head + R"({"end":"2020-01-01","val":1)" + std::string(1, '\0') + R"(,"accn":"a"}]}}}}})",
       "NUL byte in the document", std::string(1, '\0')},
      {"leading zero", head + R"({"end":"2020-01-01","val":007,"accn":"a"}]}}}}})", "malformed number", "007"},
      {"bare minus", head + R"({"end":"2020-01-01","val":-,"accn":"a"}]}}}}})", "malformed number", "-,"},
      {"no fraction digits", head + R"({"end":"2020-01-01","val":1.,"accn":"a"}]}}}}})", "malformed number", "1."},
      {"beyond a double", head + R"({"end":"2020-01-01","val":1e400,"accn":"a"}]}}}}})", "out of the range", "1e400"},
      {"unclosed", head + good_fact, "ends before its objects and arrays close", ""},
      {"bad escape", head + R"({"end":"2020-01-01","val":1,"accn":"a\x"}]}}}}})", "invalid escape", "\"a\\"},
      {"unclosed key escape", head + R"({"e\u00":"2020-01-01"}]}}}}})", "invalid escape", "\"e"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const auto p = parse_bytes(c.bytes, "companyfacts/CIK0000000001.json");
    if (c.reason.empty()) {  // skipped values are stepped over by depth, as On-Demand did
      CHECK(p.outcome.ok);
      continue;
    }
    REQUIRE_FALSE(p.outcome.ok);
    CHECK_THAT(p.outcome.error, Catch::Contains(c.reason));
    const auto at = c.at.empty() ? c.bytes.size() : c.bytes.find(c.at, head.size());
    CHECK(p.outcome.error_offset == static_cast<std::int64_t>(at));
    CHECK(p.decoded.rows.empty());
  }

  const auto val = [&](const std::string& v) {
    const auto p = parse_bytes(head + R"({"end":"2020-01-01","val":)" + v + R"(,"accn":"a"}]}}}}})", "x.json");
    REQUIRE(p.outcome.ok);
    return p.decoded.rows.at(TableId::kFacts).at(0).at(6);
  };
  CHECK(*val("9223372036854775807") == "9223372036854775807");  // an integer
  CHECK(*val("-9223372036854775808") == "-9223372036854775808");
  CHECK(*val("9223372036854775808") == "9223372036854775808");  // beyond int64: a decimal as written
  CHECK(*val("1e-400") == "1e-400");  // too small for a double: simdjson reads 0, and so do we
  CHECK(*val("-0.5E+2 ") == "-0.5E+2");
  CHECK_FALSE(val("null").has_value());
}

TEST_CASE("integers: canonical ones read eight digits at a time, the rest by the JSON number grammar",
          "[parser][malformed]") {
  // Integer cells are parsed straight from the token when it is -?(0|[1-9][0-9]*) of up to 18
  // digits; every other spelling must still be refused (or read) as JSON's number grammar says.
  const auto page = [](const std::string& size) {
    return parse_bytes(R"({"accessionNumber":["a"],"size":[)" + size + "]}", "CIK0000000001-submissions-001.json");
  };
  const auto F = TableId::kFilings;
  for (const char* good :
       {"0", "-0", "7", "-123456789012345678", "123456789012345678", "9223372036854775807", "-9223372036854775808"}) {
    INFO(good);
    const auto p = page(good);
    REQUIRE(p.outcome.ok);
    const std::string expected = std::string(good) == "-0" ? "0" : good;
    CHECK(col(p.decoded.rows.at(F).at(0), F, "size") == expected);
  }
  // Every length the eight-bytes-at-a-time path reads (1-16 digits) and the byte loop (17-18),
  // with a byte just outside the digits (';' or '/') at each position refused.
  std::string digits = "9";
  for (int i = 1; i < 18; ++i) digits += static_cast<char>('0' + (i * 7) % 10);
  for (std::size_t n = 1; n <= 18; ++n) {
    for (const std::string sign : {"", "-"}) {
      const std::string number = sign + digits.substr(0, n);
      INFO(number);
      const auto p = page(number);
      REQUIRE(p.outcome.ok);
      CHECK(col(p.decoded.rows.at(F).at(0), F, "size") == number);
    }
    for (std::size_t at = 0; at < n; ++at)
      for (const char bad : {';', '/'}) {
        std::string number = digits.substr(0, n);
        number[at] = bad;
        INFO(number);
        CHECK_FALSE(page(number).outcome.ok);
      }
  }
  CHECK(col(page("true").decoded.rows.at(F).at(0), F, "size") == "1");  // a flag written as a boolean
  for (const char* bad : {"01", "-", "--1", "1.0", "1e3", "9223372036854775808", "99999999999999999999", "12a"}) {
    INFO(bad);
    const auto p = page(bad);
    CHECK_FALSE(p.outcome.ok);
    CHECK_FALSE(p.outcome.error.empty());
    CHECK(p.decoded.rows.count(F) == 0);
  }
}

TEST_CASE("dates and timestamps must name days that exist", "[parser]") {
  // A 1-31 day check let 2026-02-30 through: SQLite kept the text, PostgreSQL's binary DATE made
  // it 2026-03-02 (found by the fuzz target comparing encodings).
  const auto fact = [](const std::string& end, const std::string& filed) {
    return R"({"cik":1,"entityName":"E","facts":{"dei":{"X":{"units":{"USD":[{"end":")" + end +
           R"(","val":1,"accn":"a","filed":")" + filed + R"("}]}}}}})";
  };
  for (const char* day : {"2026-02-30", "2023-02-29", "1900-02-29", "2026-04-31"}) {
    INFO(day);
    const auto bad = parse_bytes(fact(day, "2026-01-05"), "x.json");
    CHECK_FALSE(bad.outcome.ok);
    CHECK(bad.outcome.error == std::string("end: \"") + day + "\" is not a date (YYYY-MM-DD)");
  }
  CHECK(parse_bytes(fact("2024-02-29", "2000-02-29"), "x.json").outcome.ok);
  // Times too: 17:05:62 passed a 0-69 seconds check and became 17:06:02 in PostgreSQL.
  for (const char* when : {"2023-02-29T10:00:00.000Z", "2021-09-07T17:05:62.000Z", "2021-09-07T17:05:60.000Z",
                           "2021-09-07T24:00:00.000Z", "2021-09-07T17:60:00.000Z"}) {
    INFO(when);
    const std::string page = std::string(R"({"accessionNumber":["a"],"acceptanceDateTime":[")") + when + R"("]})";
    const auto timestamp = parse_bytes(page, "CIK0000000001-submissions-001.json");
    CHECK_FALSE(timestamp.outcome.ok);
    CHECK_THAT(timestamp.outcome.error, Catch::Contains("is not a UTC timestamp"));
  }
  CHECK(parse_bytes(R"({"accessionNumber":["a"],"acceptanceDateTime":["2021-09-07T23:59:59.000Z"]})",
                    "CIK0000000001-submissions-001.json")
            .outcome.ok);
  // Checked once when read, reformatted when written: milliseconds only when not zero, a plain
  // date as midnight; malformed fractions are refused.
  const auto F = TableId::kFilings;
  for (const auto& [when, sql] : std::initializer_list<std::pair<const char*, const char*>>{
           {"2021-09-07T17:05:02.120Z", "2021-09-07 17:05:02.120"},
           {"2021-09-07T17:05:02.001Z", "2021-09-07 17:05:02.001"},
           {"2021-09-07T17:05:02.000Z", "2021-09-07 17:05:02"},
           {"2021-09-07T17:05:02.5Z", "2021-09-07 17:05:02.5"},
           {"2021-09-07T17:05:02Z", "2021-09-07 17:05:02"},
           {"2021-09-07", "2021-09-07 00:00:00"}}) {
    INFO(when);
    const auto p = parse_bytes(std::string(R"({"accessionNumber":["a"],"acceptanceDateTime":[")") + when + R"("]})",
                               "CIK0000000001-submissions-001.json");
    REQUIRE(p.outcome.ok);
    CHECK(col(p.decoded.rows.at(F).at(0), F, "acceptance_datetime") == sql);
  }
  for (const char* when : {"2021-09-07T17:05:02.1234Z", "2021-09-07T17:05:02.Z", "2021-09-07T17:05:02,120Z",
                           "2021-09-07T17:05:02.12aZ", "2021-09-07T17:05:02.120", "2021-09-07 17:05:02.120Z"}) {
    INFO(when);
    const auto p = parse_bytes(std::string(R"({"accessionNumber":["a"],"acceptanceDateTime":[")") + when + R"("]})",
                               "CIK0000000001-submissions-001.json");
    CHECK_FALSE(p.outcome.ok);
    CHECK_THAT(p.outcome.error, Catch::Contains("is not a UTC timestamp"));
  }
}

TEST_CASE("rows spill across small batch chunks without loss", "[parser][batch]") {
  const auto big = parse_sample("companyfacts/CIK0000320193.json", 1 << 20);
  const auto small = parse_sample("companyfacts/CIK0000320193.json", 8192);
  REQUIRE(small.outcome.ok);
  CHECK(small.decoded.count(TableId::kFacts) == big.decoded.count(TableId::kFacts));
  CHECK(small.decoded.rows.at(TableId::kFacts) == big.decoded.rows.at(TableId::kFacts));
  CHECK(small.decoded.file_begins == 1);
  CHECK(small.decoded.ends.size() == 1);
}

TEST_CASE("malformed input: one-line reason and byte offset, no rows", "[parser][malformed]") {
  const std::string fund = read_file(std::string(EDGARPIPE_TEST_DATA_DIR) + "/submissions/CIK0001800903.json");
  const auto name_at = fund.find("\"name\":\"") + 8;
  struct Case {
    const char* what;
    std::string bytes;
    std::string reason;
    std::int64_t offset;  // -1: any
  };
  std::string bad_utf8 = fund;
  bad_utf8.insert(name_at, "\xC3\x28");
  std::string unequal = fund;
  unequal.replace(unequal.find("\"form\":[\"D\"]"), 12, "\"form\":[\"D\",\"D\"]");
  std::string wrong_type = fund;
  wrong_type.replace(wrong_type.find("\"size\":["), 8, "\"size\":[\"12\",");
  std::string bad_date = fund;
  bad_date.replace(bad_date.find("\"filingDate\":[\""), 15, "\"filingDate\":[\"2021-13-01\",\"");
  const Case cases[] = {
      {"truncated", fund.substr(0, 700), "invalid JSON", 700},
      {"invalid UTF-8", bad_utf8, "invalid UTF-8", static_cast<std::int64_t>(name_at)},
      {"unequal arrays", unequal, "arrays of unequal length", -1},
      {"wrong type", wrong_type, "filings.recent.size: expected an integer or null, found a string", -1},
      {"bad date", bad_date, "is not a date", -1},
      {"empty file", "", "empty file", 0},
      {"not JSON", "<Error><Code>NoSuchKey</Code></Error>", "invalid JSON", -1},
      {"top-level array", "[1,2,3]", "expected a JSON object at the top level", 0},
      {"trailing content", fund + "{}", "trailing content", static_cast<std::int64_t>(fund.size())},
      {"NUL byte", fund.substr(0, 40) + std::string(1, '\0') + fund.substr(40), "NUL byte", 40},
      {"NUL escape", R"({"cik":1,"entityName":"a\u0000b","facts":{}})", "NUL character", -1},
      {"NUL inside a string", std::string("{\"cik\":1,\"entityName\":\"a") + std::string(1, '\0') + "b\"}", "NUL byte",
       24},
      {"control character inside a string", "{\"cik\":1,\"entityName\":\"a\x01b\"}", "must be escaped", 24},
      {"huge number", R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1e999,"accn":"a"}]}}}}})",
       "invalid JSON", -1},
      {"deep nesting", std::string(4000, '[') + std::string(4000, ']'), "", -1},
      {"cik out of range", R"({"cik":"12345678901","name":"x"})", "is not a CIK", 7},
      // A number is quoted, and cut ones say how long they were.
      {"23-digit cik", R"({"cik":12345678901234567890123,"name":"x"})",
       R"(cik: expected a whole number, found the number "12345678901234567890..." (23 digits), beyond a 64-bit integer)",
       7},
      {"fractional cik", R"({"cik":1.5,"name":"x"})", R"(cik: expected a whole number, found the number "1.5")", 7},
      {"401-digit value",
       R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1)" + std::string(400, '0') +
           R"(,"accn":"a"}]}}}}})",
       R"(number out of the range of a double: "10000000000000000000..." (401 digits))", 68},
      {"fact without accn", R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1}]}}}}})",
       "fact without an \"accn\"", -1},
      {"tickers vs exchanges", R"({"cik":"1","name":"x","tickers":["A","B"],"exchanges":["NYSE"]})",
       "tickers has 2 entries but exchanges has 1", -1},
      {"mixed kinds", R"({"cik":1,"entityName":"x","filings":{}})", "does not belong in a companyfacts file", -1},
      // An escaped line break in a quoted value stays escaped in the reason (fuzz target).
      {"line break in a quoted value",
       R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":"2020-01-01","val":1,"accn":"a","filed":"2\\\nx\u0001"}]}}}}})",
       R"(filed: "2\\nx\u0001" is not a date)", -1},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const auto p = parse_bytes(c.bytes, "submissions/CIK0000000001.json");
    REQUIRE_FALSE(p.outcome.ok);
    CHECK_THAT(p.outcome.error, Catch::Contains(c.reason));
    CHECK(p.outcome.error.find('\n') == std::string::npos);
    if (c.offset >= 0) CHECK(p.outcome.error_offset == c.offset);
    CHECK(p.outcome.rows == 0);
    CHECK(p.decoded.rows.empty());  // nothing of a rejected file reaches the batch
    REQUIRE(p.decoded.ends.size() == 1);
    CHECK(p.decoded.ends[0].status == FileStatus::kRejected);
  }
}

TEST_CASE("a row larger than a batch chunk is refused with the offset of one of its values", "[parser][malformed]") {
  const std::string json =
      R"({"cik":1,"facts":{"g":{"C":{"label":")" + std::string(5000, 'L') + R"(","description":"d","units":{}}}}})";
  const auto p = parse_bytes(json, "CIK0000000001.json", Dataset::kUnknown, false, 4096);
  REQUIRE_FALSE(p.outcome.ok);
  CHECK_THAT(p.outcome.error, Catch::Contains("does not fit in a batch chunk of 4096 bytes"));
  CHECK(p.outcome.error_offset == static_cast<std::int64_t>(json.find("\"d\"")));
  CHECK(p.decoded.rows.empty());
}

TEST_CASE("a forced dataset (--dataset) must match the document, and a path hint only settles silent documents",
          "[parser]") {
  const std::string apple_facts = read_file(std::string(EDGARPIPE_TEST_DATA_DIR) + "/companyfacts/CIK0000320193.json");
  const auto forced = parse_bytes(apple_facts, "CIK0000320193.json", Dataset::kSubmissions, true);
  REQUIRE_FALSE(forced.outcome.ok);
  CHECK_THAT(forced.outcome.error, Catch::Contains("does not belong in a submissions main file"));
  // A path hint alone does not override what the document says it is.
  const auto hinted = parse_bytes(apple_facts, "submissions/CIK0000320193.json", Dataset::kSubmissions, false);
  REQUIRE(hinted.outcome.ok);
  CHECK(hinted.outcome.dataset == Dataset::kCompanyfacts);
}

TEST_CASE("a quoted value in a reason is cut on a character boundary, never inside one", "[parser]") {
  // 39 ASCII bytes then a 2-byte character: a cut at 40 bytes would keep half of it, and
  // PostgreSQL refuses invalid UTF-8 in ingest_files.error (the whole batch of ingest rows).
  const std::string value = std::string(39, 'a') + "\xC3\xA9tail";
  const auto bad_date =
      parse_bytes(R"({"cik":1,"facts":{"g":{"C":{"units":{"U":[{"end":")" + value + R"(","val":1,"accn":"a"}]}}}}})",
                  "CIK0000000001.json");
  REQUIRE_FALSE(bad_date.outcome.ok);
  CHECK(bad_date.outcome.error == "end: \"" + std::string(39, 'a') + "\" is not a date (YYYY-MM-DD)");
  CHECK(first_invalid_utf8(bad_date.outcome.error.data(), bad_date.outcome.error.size()) ==
        bad_date.outcome.error.size());

  // The same for a value an encoding refuses: a unit longer than SQL Server's NVARCHAR(128).
  const std::string unit = std::string(39, 'u') + "\xC3\xA9" + std::string(100, 'u');
  const auto too_long = parse_bytes(
      R"({"cik":1,"facts":{"g":{"C":{"units":{")" + unit + R"(":[{"end":"2020-01-01","val":1,"accn":"a"}]}}}}})",
      "CIK0000000001.json", Dataset::kUnknown, false, 1 << 20, BatchEncoding::kTdsCells);
  REQUIRE_FALSE(too_long.outcome.ok);
  CHECK(too_long.outcome.error ==
        "facts.unit: \"" + std::string(39, 'u') + "\" is longer than the column: 140 characters, NVARCHAR(128)");

  CHECK(text_excerpt("abc", 40) == "abc");
  CHECK(text_excerpt("\xF0\x9F\x9A\x80x", 3).empty());  // a 4-byte character does not fit in 3
  CHECK(text_excerpt("\xF0\x9F\x9A\x80x", 4) == "\xF0\x9F\x9A\x80");
}

TEST_CASE("an integer beyond 64 bits that no double equals is refused for SQLite, exact elsewhere",
          "[parser][malformed]") {
  const auto fact = [](const std::string& val, BatchEncoding encoding) {
    return parse_bytes(
        R"({"cik":3,"facts":{"dei":{"C":{"units":{"USD":[{"end":"2020-01-31","val":)" + val + R"(,"accn":"x"}]}}}}})",
        "x.json", Dataset::kUnknown, false, 1 << 20, encoding);
  };
  const auto sqlite = fact("99999999999999999999", BatchEncoding::kValues);
  REQUIRE_FALSE(sqlite.outcome.ok);
  CHECK_THAT(sqlite.outcome.error,
             Catch::Contains("\"99999999999999999999\" is an integer beyond 64 bits") && Catch::Contains("1e+20"));
  CHECK(sqlite.outcome.error_offset == 72);  // the value's first byte
  CHECK(fact("-99999999999999999999", BatchEncoding::kValues).outcome.error_offset == 72);
  // A double that is the value exactly, a fraction (documented as the nearest double) and the
  // largest 64-bit integer load; PostgreSQL and SQL Server keep every digit.
  for (const char* fine : {"100000000000000000000", "1e20", "-1.5e20", "99999999999999999999.5", "9223372036854775807",
                           "18446744073709551616"})
    CHECK(fact(fine, BatchEncoding::kValues).outcome.ok);
  CHECK(fact("99999999999999999999", BatchEncoding::kPgCopy).outcome.ok);
  CHECK(fact("99999999999999999999", BatchEncoding::kTdsCells).outcome.ok);
}
