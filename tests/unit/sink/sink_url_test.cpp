// parse_sink_url: what each --sink form means, and what it refuses (a password, a bad schema
// name, an unknown scheme), without a database.
#include <catch2/catch.hpp>

#include <string>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/sink/sink.hpp"

using Catch::Matchers::Contains;
using edgarpipe::BatchEncoding;
using edgarpipe::parse_sink_url;
using edgarpipe::SinkUrl;

TEST_CASE("sink URL sqlite: and null: name a path or nothing", "[sink]") {
  const SinkUrl a = parse_sink_url("sqlite:/data/edgar.db");
  CHECK(a.kind == SinkUrl::Kind::kSqlite);
  CHECK(a.target == "/data/edgar.db");
  CHECK(a.text == "sqlite:/data/edgar.db");
  CHECK(parse_sink_url("sqlite://relative.db").target == "relative.db");
  CHECK_THROWS_WITH(parse_sink_url("sqlite:"), Contains("needs a database path"));
  CHECK(parse_sink_url("null:").kind == SinkUrl::Kind::kNull);
  CHECK(parse_sink_url("null").kind == SinkUrl::Kind::kNull);
  CHECK(batch_encoding_for(a) == BatchEncoding::kValues);
  CHECK_THROWS_WITH(parse_sink_url("mysql://h/db"), Contains("unknown sink 'mysql://h/db'"));
  CHECK_THROWS_AS(parse_sink_url("edgar.db"), edgarpipe::UsageError);
}

TEST_CASE("sink URL postgresql: a URI or conninfo, never a password, schema= checked and applied", "[sink]") {
  const SinkUrl uri = parse_sink_url("postgresql://loader@db:5432/edgar");
  CHECK(uri.kind == SinkUrl::Kind::kPostgres);
  CHECK(uri.target == "postgresql://loader@db:5432/edgar");
  CHECK(uri.schema.empty());
  CHECK(batch_encoding_for(uri) == BatchEncoding::kPgCopy);
  CHECK(parse_sink_url("host=db dbname=edgar").kind == SinkUrl::Kind::kPostgres);

  // Passwords show in ps and in ingest_runs.sink: refused in either form, pointing elsewhere.
  CHECK_THROWS_WITH(parse_sink_url("postgresql://loader:secret@db/edgar"), Contains("PGPASSWORD"));
  CHECK_THROWS_WITH(parse_sink_url("host=db password=secret dbname=edgar"), Contains("do not put a password"));

  // schema= leaves the URL (libpq would refuse it) and becomes every connection's search_path.
  const SinkUrl schema = parse_sink_url("postgresql://db/edgar?schema=sec_2026&sslmode=disable");
  CHECK(schema.schema == "sec_2026");
  CHECK(schema.target == "postgresql://db/edgar?sslmode=disable&options=-csearch_path%3Dsec_2026");
  const SinkUrl conninfo = parse_sink_url("host=db schema=sec dbname=edgar");
  CHECK(conninfo.schema == "sec");
  CHECK(conninfo.target == "host=db dbname=edgar options='-csearch_path=sec'");
  for (const char* bad : {"postgresql://db/e?schema=Sec", "postgresql://db/e?schema=pg_x",
                          "postgresql://db/e?schema=1a", "postgresql://db/e?schema=a;drop"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_sink_url(bad), Contains("a schema name is 1 to 63 lowercase letters"));
  }
  CHECK_THROWS_WITH(parse_sink_url("postgresql://db/e?schema=s&options=-cfoo%3Dbar"),
                    Contains("cannot be combined with options="));
  CHECK(edgarpipe::with_schema("postgresql://db/e?schema=old", "new") == "postgresql://db/e?schema=new");
  CHECK(edgarpipe::with_schema("host=db", "new") == "host=db schema=new");
}

TEST_CASE("sink URL mssql: never a password, text=utf8 picks the UTF-8 cells, options checked", "[sink]") {
  const SinkUrl url = parse_sink_url("mssql://loader@sql.example:1433/edgar");
  CHECK(url.kind == SinkUrl::Kind::kMssql);
  CHECK(batch_encoding_for(url) == BatchEncoding::kTdsCells);
  CHECK(batch_encoding_for(parse_sink_url("sqlserver://loader@h/edgar?text=utf8")) == BatchEncoding::kTdsCellsUtf8);
  CHECK_THROWS_WITH(parse_sink_url("mssql://loader:secret@h/edgar"), Contains("EDGARPIPE_MSSQL_PASSWORD"));
  CHECK_THROWS_WITH(parse_sink_url("mssql://loader@h/edgar?password=x"), Contains("do not put a password"));
  CHECK(parse_sink_url("mssql://loader@h/edgar?schema=sec").schema == "sec");
  CHECK_THROWS_WITH(parse_sink_url("mssql://loader@h/edgar?schema=Bad-Name"),
                    Contains("a schema name is 1 to 63 lowercase letters"));
  // The rest of the URL is read when a connection is opened; its errors are usage errors too.
  CHECK_THROWS_WITH(batch_encoding_for(parse_sink_url("mssql://h/edgar?text=latin1")),
                    Contains("text=latin1 (expected nvarchar or utf8)"));
}
