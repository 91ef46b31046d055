// The SQL Server sink: rows go in through FreeTDS db-lib bulk copy (bcp_*), TDS 7.4, packets of
// 32767 bytes, one bulk request per table per commit, inside one transaction with the files'
// ingest_files rows.
//
// ../shared/mssql-notes.md lists the FreeTDS 1.3.17 pitfalls this sink is built around:
// - bound bytes are sent as they are: NVARCHAR text is UTF-16LE already when it arrives (the
//   parsers encode rows as cells, BatchEncoding::kTdsCells in row_batch.hpp), or, with
//   text=utf8, UTF-8 for VARCHAR columns with a *_UTF8 collation (SQL Server 2019+);
// - a NULL sent into a NOT NULL column aborts the process, and over-long strings are silently
//   truncated: the parsers check both per value and reject the file with a clear reason and its
//   offset; a source name too long for ingest_files is refused before the run (MssqlAdmin);
// - multi-keyword bulk hints are broken: only the single TABLOCK hint is ever used;
// - bcp_collen(0) means NULL, so an empty string is bound with length -1 to an empty buffer.
//
// A writer appends the parsers' bind-ready cells (a 32-bit length, -1 for NULL, then the bytes)
// per table and sends them at commit, binding pointers into its buffer. If the server refuses a row (a data or
// constraint error), the transaction is rolled back and the files are replayed one transaction each, so only the
// offending file is rejected. Concepts and ingest_files rows go through #temporary staging tables and a de-duplicating
// UPDATE / INSERT ... WHERE NOT EXISTS (no MERGE: docs/sinks.md). A lost connection is retried with bounded backoff.
//
// Credentials: the password comes from EDGARPIPE_MSSQL_PASSWORD or FreeTDS's own configuration
// (freetds.conf, TDSVER...), never from the URL (parse_sink_url refuses it).
#include <sybdb.h>
#include <sybfront.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "batched_sink_writer.hpp"
#include "edgarpipe/batch/mssql_values.hpp"
#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/sink/sink.hpp"

namespace edgarpipe {

namespace {

constexpr std::size_t kCommitBytes = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Options and DDL

struct MssqlOptions {
  std::string user, server, database;  // server: "host:port" or a freetds.conf section name
  std::string encrypt;                 // "", "require", "request" or "off"
  bool utf8_text = false;              // VARCHAR with a UTF-8 collation instead of NVARCHAR
  bool tablock = true;
  int packet_size = 32767;
  std::string schema;  // schema=: must be the login's default schema (checked at connection)
};

std::string_view url_option(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// mssql://[user@]host[:port]/database[?encrypt=require&text=nvarchar|utf8&tablock=on|off&packet=N]
MssqlOptions parse_options(std::string_view url) {
  MssqlOptions o;
  std::string_view rest = url.substr(url.find("://") + 3);
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    o.user = std::string(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  const auto slash = rest.find('/');
  o.server = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) o.database = std::string(rest.substr(slash + 1));
  if (o.server.empty() || o.database.empty())
    throw UsageError("--sink mssql://USER@HOST:PORT/DATABASE needs a server and a database");
  for (const char c : o.database)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      throw UsageError("--sink mssql: database name '" + o.database + "' must be letters, digits, _ or -");
  const std::string_view text = url_option(query, "text");
  if (text == "utf8")
    o.utf8_text = true;
  else if (!text.empty() && text != "nvarchar")
    throw UsageError("--sink mssql: text=" + std::string(text) + " (expected nvarchar or utf8)");
  const std::string_view tablock = url_option(query, "tablock");
  if (tablock == "off" || tablock == "false" || tablock == "0")
    o.tablock = false;
  else if (!tablock.empty() && tablock != "on" && tablock != "true" && tablock != "1")
    throw UsageError("--sink mssql: tablock=" + std::string(tablock) + " (expected on or off)");
  o.encrypt = std::string(url_option(query, "encrypt"));
  if (!o.encrypt.empty() && o.encrypt != "require" && o.encrypt != "request" && o.encrypt != "off")
    throw UsageError("--sink mssql: encrypt=" + o.encrypt + " (expected require, request or off)");
  if (const std::string_view packet = url_option(query, "packet"); !packet.empty()) {
    o.packet_size = std::atoi(std::string(packet).c_str());
    if (o.packet_size < 512 || o.packet_size > 32767)
      throw UsageError("--sink mssql: packet must be between 512 and 32767");
  }
  o.schema = std::string(url_option(query, "schema"));
  return o;
}

// Text compares by code point, as in SQLite and PostgreSQL (COLLATE "C"): under the server's
// default, case-insensitive collation the keys would take units "Well" and "well" as one, and the
// concepts "FooBar" and "Foobar" as one (one row kept, silently).
constexpr std::string_view kExactCollation = "Latin1_General_100_BIN2";
constexpr std::string_view kExactCollationUtf8 = "Latin1_General_100_BIN2_UTF8";

std::string mssql_text_type(bool utf8_text, std::string_view table, std::string_view column) {
  const int width = mssql::text_width(table, column);
  const std::string size = width == 0 ? "MAX" : std::to_string(width);
  return utf8_text ? fmt::format("VARCHAR({}) COLLATE {}", size, kExactCollationUtf8)
                   : fmt::format("NVARCHAR({}) COLLATE {}", size, kExactCollation);
}

template <bool Utf8Text>
std::string mssql_type(ColumnType t, std::string_view table, std::string_view column) {
  if (t != ColumnType::kText) return std::string(sql_type_name(t, SqlFlavor::kMssql));
  return mssql_text_type(Utf8Text, table, column);
}

// Analytic storage makes facts a clustered columnstore (column-wise, compressed; what a fact
// table of ~100M rows is scanned fastest as), with the key as a nonclustered unique index.
std::string build_schema(bool utf8_text, Storage storage) {
  SqlDialect d{utf8_text ? mssql_type<true> : mssql_type<false>, "period_start", "BIGINT IDENTITY(1,1) PRIMARY KEY",
               // A table's indexes are made with it, in its guarded block: looking an index up by name
               // (sys.indexes.name) does not hold on Babelfish, which stores index names changed.
               [](std::string_view table) {
                 return fmt::format("IF OBJECT_ID(N'{0}', N'U') IS NULL BEGIN\nCREATE TABLE {0}", table);
               },
               [](std::string_view index, std::string_view table) {
                 return fmt::format("CREATE UNIQUE INDEX {} ON {}", index, table);
               },
               " WHERE cik IS NOT NULL", "END;\n"};
  if (storage == Storage::kAnalytic)
    d.facts_storage_ddl = "CREATE CLUSTERED COLUMNSTORE INDEX facts_columnstore ON facts;\n";
  return contract_ddl(d);
}

// A T-SQL string literal.
std::string quote(std::string_view s) {
  std::string out = "N'";
  for (const char c : s) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  return out + "'";
}

// ---------------------------------------------------------------------------------------------
// Connection: db-lib reports errors through process-wide callbacks; a writer or admin process
// has one connection in use at a time, so the last message is kept here.

struct ServerMessage {
  int number = 0;
  int severity = 0;
  std::string text;
};
ServerMessage g_last_error;
std::string g_last_client_error;

bool is_data_error(int number) {
  switch (number) {
    case 241:   // conversion failed (date/time)
    case 242:   // out-of-range datetime
    case 245:   // conversion failed
    case 515:   // NULL into NOT NULL
    case 547:   // constraint conflict
    case 2601:  // duplicate key (unique index)
    case 2627:  // duplicate key (primary key / unique constraint)
    case 2628:  // string or binary data would be truncated (2019+)
    case 8114:  // conversion error
    case 8115:  // arithmetic overflow
    case 8152:  // string or binary data would be truncated
    case 4815:  // bulk load: invalid column length
    case 4816:  // bulk load: invalid column type
    case 4819:  // bulk load: invalid data
    case 4864:  // bulk load: data conversion error
      return true;
    default:
      return false;
  }
}

int on_message(DBPROCESS*, DBINT number, int, int severity, char* text, char*, char*, int) {
  if (severity > 10) {
    g_last_error.number = number;
    g_last_error.severity = severity;
    g_last_error.text = text ? text : "";
    for (char& c : g_last_error.text)
      if (c == '\n' || c == '\r') c = ' ';
  }
  return 0;
}

int on_error(DBPROCESS*, int, int, int, char* text, char* os_text) {
  g_last_client_error = text ? text : "unknown FreeTDS error";
  if (os_text && *os_text) g_last_client_error += fmt::format(" ({})", os_text);
  return INT_CANCEL;
}

void init_dblib() {
  static const bool done = [] {
    if (dbinit() == FAIL) throw SinkError("SQL Server: cannot initialise FreeTDS db-lib");
    dberrhandle(on_error);
    dbmsghandle(on_message);
    return true;
  }();
  (void)done;
}

// A result cell as text, the way the other sinks print it: text as it came (dbconvert to
// SYBCHAR blank-pads a zero-length value to the buffer's size), dates and times in ISO 8601
// (FreeTDS's own format is "Dec  2 2026 10:30:36:0000000AM"), the rest by dbconvert.
std::string cell_text(DBPROCESS* dbproc, int type, const BYTE* data, DBINT length) {
  switch (type) {
    case SYBCHAR:
    case SYBVARCHAR:
    case SYBTEXT:
    case SYBNTEXT:
    case SYBNVARCHAR:
      return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(std::max<DBINT>(0, length)));
    case SYBMSDATE:
    case SYBMSDATETIME2:
    case SYBDATETIME:
    case SYBDATETIME4:
    case SYBDATETIMN: {
      DBDATEREC2 d{};
      if (dbanydatecrack(dbproc, &d, type, data) == FAIL) break;
      std::string out = fmt::format("{:04}-{:02}-{:02}", d.dateyear, d.datemonth + 1, d.datedmonth);
      if (type == SYBMSDATE) return out;
      out += fmt::format(" {:02}:{:02}:{:02}", d.datehour, d.dateminute, d.datesecond);
      if (d.datensecond != 0) {  // 100 ns is SQL Server's finest; trailing zeros dropped
        std::string fraction = fmt::format("{:07}", d.datensecond / 100);
        while (fraction.back() == '0') fraction.pop_back();
        out += "." + fraction;
      }
      return out;
    }
    default:
      break;
  }
  std::string text(std::max<DBINT>(64, 4 * length + 64), '\0');
  const DBINT n = dbconvert(dbproc, type, data, length, SYBCHAR, reinterpret_cast<BYTE*>(text.data()),
                            static_cast<DBINT>(text.size()));
  text.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
  return text;
}

class Connection {
 public:
  explicit Connection(MssqlOptions options) : options_(std::move(options)) {
    init_dblib();
    connect();
  }
  ~Connection() {
    if (dbproc_) dbclose(dbproc_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void reconnect() {
    if (dbproc_) dbclose(dbproc_);
    dbproc_ = nullptr;
    connect();
  }
  bool broken() const noexcept { return dbproc_ == nullptr || DBDEAD(dbproc_); }
  DBPROCESS* get() const noexcept { return dbproc_; }
  const MssqlOptions& options() const noexcept { return options_; }

  static void clear_errors() {
    g_last_error = {};
    g_last_client_error.clear();
  }
  StatementError last_error(std::string_view what) const {
    StatementError e;
    if (g_last_error.number != 0) {
      e.message = fmt::format("{}: Msg {}: {}", what, g_last_error.number, g_last_error.text);
      e.number = g_last_error.number;
      e.data_error = is_data_error(g_last_error.number);
      e.deadlock = g_last_error.number == 1205;
    } else {
      e.message = fmt::format("{}: {}", what, g_last_client_error.empty() ? "failed" : g_last_client_error);
    }
    return e;
  }

  // Runs a batch and reads every result; rows come back as text. Returns the error if any.
  std::optional<StatementError> try_exec(const std::string& sql, std::vector<SinkAdmin::TextRow>* rows = nullptr,
                                         std::int64_t* affected = nullptr) {
    clear_errors();
    if (dbcmd(dbproc_, sql.c_str()) == FAIL || dbsqlexec(dbproc_) == FAIL) {
      drain();
      return last_error("SQL Server");
    }
    bool failed = false;
    RETCODE rc;
    while ((rc = dbresults(dbproc_)) != NO_MORE_RESULTS) {
      if (rc == FAIL) {
        failed = true;
        break;
      }
      const int columns = dbnumcols(dbproc_);
      while (dbnextrow(dbproc_) != NO_MORE_ROWS) {
        if (!rows) continue;
        SinkAdmin::TextRow row;
        for (int c = 1; c <= columns; ++c) {
          BYTE* data = dbdata(dbproc_, c);
          if (data == nullptr) {
            row.emplace_back(std::nullopt);
            continue;
          }
          row.emplace_back(cell_text(dbproc_, dbcoltype(dbproc_, c), data, dbdatlen(dbproc_, c)));
        }
        rows->push_back(std::move(row));
      }
      if (affected && dbiscount(dbproc_)) *affected += DBCOUNT(dbproc_);
    }
    if (failed || g_last_error.number != 0) return last_error("SQL Server");
    return std::nullopt;
  }

  std::vector<SinkAdmin::TextRow> exec(const std::string& sql) {
    std::vector<SinkAdmin::TextRow> rows;
    if (auto e = try_exec(sql, &rows)) throw SinkError(e->message);
    return rows;
  }

  // After a failed statement or bulk copy: drop pending results and roll back what is open.
  void reset_after_error() {
    if (broken()) return;
    dbcancel(dbproc_);
    try_exec("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION");
  }

 private:
  void drain() {
    if (dbproc_ && !DBDEAD(dbproc_)) dbcancel(dbproc_);
  }

  void connect() {
    clear_errors();
    LOGINREC* login = dblogin();
    if (!login) throw SinkError("SQL Server: cannot allocate a login record");
    if (!options_.user.empty()) DBSETLUSER(login, options_.user.c_str());
    if (const char* password = std::getenv("EDGARPIPE_MSSQL_PASSWORD")) DBSETLPWD(login, password);
    DBSETLAPP(login, "edgarpipe");
    DBSETLCHARSET(login, "UTF-8");
    DBSETLDBNAME(login, options_.database.c_str());
    DBSETLPACKET(login, options_.packet_size);
    dbsetlversion(login, DBVERSION_74);
    BCP_SETL(login, TRUE);
    if (options_.encrypt == "require") DBSETLENCRYPT(login, TRUE);
    dbsetlogintime(15);
    dbproc_ = dbopen(login, options_.server.c_str());
    dbloginfree(login);
    if (!dbproc_) {
      const std::string why = g_last_error.number != 0 ? g_last_error.text : g_last_client_error;
      throw SinkError(
          fmt::format("cannot connect to SQL Server {}: {}", options_.server, why.empty() ? "login failed" : why));
    }
    // XACT_ABORT off: a refused bulk row fails its statement, and the sink decides what to roll
    // back. ANSI settings as SQL Server's own tools use them.
    try {
      exec("SET XACT_ABORT OFF; SET ANSI_NULLS ON; SET QUOTED_IDENTIFIER ON; SET ANSI_WARNINGS ON");
    } catch (...) {  // from the constructor, no destructor would close the connection
      dbclose(dbproc_);
      dbproc_ = nullptr;
      throw;
    }
  }

  MssqlOptions options_;
  DBPROCESS* dbproc_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Cells: bind-ready values. Each is a 32-bit length (-1: NULL) and that many bytes: int64 for
// integer columns, UTF-16LE (or UTF-8) for text, ISO text for dates and times, fixed-scale text
// for decimals.

class CellBuffer {
 public:
  void null() { put_len(-1); }
  void integer(std::int64_t v) {
    put_len(8);
    bytes_.append(reinterpret_cast<const char*>(&v), 8);
  }
  void raw(std::string_view s) {
    put_len(static_cast<std::int32_t>(s.size()));
    bytes_.append(s);
  }
  // Text in the column's encoding (the caller has checked its width).
  void text(std::string_view utf8, bool utf8_text) {
    if (utf8_text) return raw(utf8);
    const std::size_t at = bytes_.size();
    put_len(0);
    mssql::append_utf16le(utf8, bytes_);
    const auto len = static_cast<std::int32_t>(bytes_.size() - at - 4);
    std::memcpy(bytes_.data() + at, &len, 4);
  }
  // Cells encoded elsewhere (a parser's row, BatchEncoding::kTdsCells).
  void append(std::span<const std::byte> raw) { bytes_.append(reinterpret_cast<const char*>(raw.data()), raw.size()); }
  std::size_t size() const noexcept { return bytes_.size(); }
  void truncate(std::size_t n) { bytes_.resize(n); }
  void clear_and_trim(std::size_t keep) {
    bytes_.clear();
    if (bytes_.capacity() > keep) bytes_.shrink_to_fit();
  }
  const char* data() const noexcept { return bytes_.data(); }

 private:
  void put_len(std::int32_t n) { bytes_.append(reinterpret_cast<const char*>(&n), 4); }
  std::string bytes_;
};

// Integer columns are bound as int64 cells (FreeTDS converts to the column's size; the range was
// checked when the cell was made).
bool is_integer(ColumnType t) {
  return t == ColumnType::kBigInt || t == ColumnType::kInt || t == ColumnType::kSmallInt;
}

// Sends `rows` rows of cells with one bulk request into `table` (which must exist: bcp_init
// reads its metadata). Returns the error, if any.
std::optional<StatementError> bulk_copy(Connection& db, const std::string& table, std::span<const Column> columns,
                                        std::string_view cells, std::uint64_t rows, bool tablock) {
  if (rows == 0) return std::nullopt;
  Connection::clear_errors();
  DBPROCESS* p = db.get();
  if (bcp_init(p, table.c_str(), nullptr, nullptr, DB_IN) == FAIL) return db.last_error("bcp_init " + table);
  if (tablock) {
    static char hint[] = "TABLOCK";  // a single hint: multi-keyword hints are broken in 1.3.17
    bcp_options(p, BCPHINTS, reinterpret_cast<BYTE*>(hint), static_cast<int>(std::strlen(hint)));
  }
  static BYTE empty[4] = {0, 0, 0, 0};
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const bool integer = is_integer(columns[c].type);
    if (bcp_bind(p, empty, 0, integer ? -1 : 0, nullptr, 0, integer ? SYBINT8 : SYBCHAR, static_cast<int>(c + 1)) ==
        FAIL) {
      bcp_done(p);
      return db.last_error("bcp_bind " + table);
    }
  }
  const char* at = cells.data();
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      std::int32_t len;
      std::memcpy(&len, at, 4);
      at += 4;
      const int column = static_cast<int>(c + 1);
      if (len < 0) {
        bcp_collen(p, 0, column);  // NULL
      } else if (len == 0) {
        bcp_colptr(p, empty, column);  // an empty string: length -1, NUL-terminated (0 would be NULL)
        bcp_collen(p, -1, column);
      } else {
        bcp_colptr(p, reinterpret_cast<BYTE*>(const_cast<char*>(at)), column);
        bcp_collen(p, is_integer(columns[c].type) ? -1 : len, column);  // fixed-size int64 cells
        at += len;
      }
    }
    if (bcp_sendrow(p) == FAIL) {
      StatementError e = db.last_error("bulk copy into " + table);
      bcp_done(p);
      return e;
    }
  }
  if (bcp_done(p) < 0 || g_last_error.number != 0) return db.last_error("bulk copy into " + table);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

// How facts is stored: a clustered columnstore index (sys.indexes type 5) is --storage analytic;
// nullopt while there is no facts table.
std::optional<Storage> facts_storage(Connection& db) {
  const auto rows = db.exec(
      "SELECT CASE WHEN OBJECT_ID(N'facts', N'U') IS NULL THEN NULL ELSE (SELECT count(*) FROM sys.indexes "
      "WHERE object_id = OBJECT_ID(N'facts', N'U') AND type = 5) END");
  if (rows.empty() || !rows[0][0]) return std::nullopt;
  return *rows[0][0] != "0" ? Storage::kAnalytic : Storage::kRow;
}

class MssqlAdmin final : public SinkAdmin {
 public:
  explicit MssqlAdmin(const MssqlOptions& options) : db_(options) {}

  std::optional<std::string> refuse_source_path(std::string_view source_path) const override {
    const auto width = static_cast<std::size_t>(mssql::text_width("ingest_files", "source_path"));
    if ((db_.options().utf8_text ? source_path.size() : mssql::utf16_length(source_path)) <= width) return std::nullopt;
    return fmt::format("the path {} is longer than the {} characters of SQL Server's ingest_files.source_path",
                       source_path, width);
  }

  std::optional<Storage> stored_as() override { return facts_storage(db_); }

  void create_schema() override {
    // Unqualified names resolve in the login's default schema (SQL Server has no per-session
    // search path): schema= is honoured by checking that it is that default, never by guessing.
    if (const std::string& wanted = db_.options().schema; !wanted.empty()) {
      const auto rows = db_.exec("SELECT SCHEMA_NAME()");
      const std::string actual = rows.empty() || !rows[0][0] ? "" : *rows[0][0];
      if (actual != wanted)
        throw SinkError(
            fmt::format("SQL Server: the login's default schema is '{}', not '{}' (schema= in --sink): ask for "
                        "CREATE SCHEMA [{}] and ALTER USER <user> WITH DEFAULT_SCHEMA = [{}]",
                        actual, wanted, wanted, wanted));
    }
    // Serialise concurrent first runs: the IF OBJECT_ID ... CREATE guards race otherwise.
    db_.exec(
        "BEGIN TRANSACTION; EXEC sp_getapplock @Resource = N'edgarpipe_schema', @LockMode = N'Exclusive', "
        "@LockOwner = N'Transaction'");
    try {
      apply_schema({"", "EXEC sp_rename N'ingest_files', N'ingest_files_v1'", "CONVERT(varchar(27), loaded_at, 121)",
                    build_schema(db_.options().utf8_text, storage_), true, SqlFlavor::kMssql,
                    [this](const std::string& sql) { db_.exec(sql); }});
      make_text_exact();
    } catch (...) {
      db_.exec("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION");
      throw;
    }
    db_.exec("COMMIT TRANSACTION");
  }

  std::int64_t begin_run(const RunStart& run) override {
    const auto rows = db_.exec(fmt::format(
        "INSERT INTO ingest_runs (started_at, status, sources, sink, files_seen, files_loaded, files_skipped, "
        "files_rejected, rows_written, readers, parsers, writers) OUTPUT INSERTED.run_id "
        "VALUES ({}, N'running', {}, {}, 0, 0, 0, 0, 0, {}, {}, {})",
        quote(utc_now()), quote(run.sources), quote(run.sink), run.readers, run.parsers, run.writers));
    if (rows.empty() || !rows[0][0]) throw SinkError("SQL Server: cannot record the run");
    return std::stoll(*rows[0][0]);
  }

  void finish_run(std::int64_t run_id, const RunTotals& t) override {
    if (db_.broken()) db_.reconnect();
    db_.exec(
        fmt::format("UPDATE ingest_runs SET finished_at = {}, status = {}, files_seen = {}, files_loaded = {}, "
                    "files_skipped = {}, files_rejected = {}, rows_written = {} WHERE run_id = {}",
                    quote(utc_now()), quote(t.status), t.files_seen, t.files_loaded, t.files_skipped, t.files_rejected,
                    t.rows_written, run_id));
  }

  std::vector<TextRow> execute(const std::string& sql) override { return db_.exec(sql); }

  LoadedFiles loaded_files() override {
    LoadedFiles map;
    for (const auto& row : db_.exec(
             "SELECT dataset, cik, page, content_hash, source_stamp FROM ingest_files WHERE status = 'loaded' AND cik "
             "IS NOT NULL")) {
      std::uint64_t h;
      if (row[0] && row[1] && row[2] && row[3] && parse_content_hash(*row[3], h))
        map[{dataset_from_name(*row[0]), std::stoll(*row[1]), std::stoi(*row[2])}] = {
            h, row.size() > 4 && row[4] ? static_cast<std::uint64_t>(std::stoll(*row[4])) : 0};
    }
    return map;
  }

  void delete_filer(Dataset dataset, std::int64_t cik) override {
    std::string sql = fmt::format(
        "SET XACT_ABORT ON; BEGIN TRANSACTION; EXEC sp_getapplock @Resource = N'edgarpipe-filer-{}', "
        "@LockMode = N'Exclusive', @LockOwner = N'Transaction'; ",
        cik);
    for (const std::string& statement : replace_filer_sql(dataset, cik)) sql += statement + "; ";
    db_.exec(sql + "COMMIT TRANSACTION");
  }

 protected:
  // A session-owned applock: it goes with the connection, so with the supervisor.
  SqlFlavor flavor() const override { return SqlFlavor::kMssql; }
  bool has_layout_1() override {
    const auto rows = db_.exec(
        "SELECT CASE WHEN OBJECT_ID(N'ingest_files', N'U') IS NOT NULL AND COL_LENGTH(N'ingest_files', N'page') IS "
        "NULL "
        "THEN 1 ELSE 0 END");
    return !rows.empty() && rows[0][0] && *rows[0][0] == "1";
  }
  bool try_lock_runs_exclusive() override { return get_run_lock("Exclusive", 0); }
  void unlock_runs_exclusive() override {
    db_.exec("EXEC sp_releaseapplock @Resource = N'edgarpipe_runs', @LockOwner = N'Session'");
  }
  void lock_runs_shared() override {
    if (!get_run_lock("Shared", -1)) throw SinkError("SQL Server: cannot take the edgarpipe_runs applock");
  }

 private:
  // A database made before schema version 4 holds its text in the server's default collation,
  // case-insensitive by default: its keys took "Well" and "well" as one unit (the file was
  // rejected) and "FooBar" and "Foobar" as one concept (one row kept). In the schema transaction,
  // every text column gets the exact collation and its width (docs/tables.md), with the indexes
  // and views that depend on the columns dropped first and made again; then the companyfacts
  // documents are marked changed, so this run loads them again and the lost concepts come back.
  void make_text_exact() {
    const auto collation = db_.exec(
        "SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(N'concepts') AND name = N'concept'");
    if (collation.empty() || !collation[0][0]) return;  // a fresh database: made exact
    std::string was = *collation[0][0];
    std::transform(was.begin(), was.end(), was.begin(), [](unsigned char c) { return std::tolower(c); });
    if (was.find("_ci") == std::string::npos) return;
    const auto started = std::chrono::steady_clock::now();
    const bool utf8 = db_.options().utf8_text;
    const bool columnstore = facts_storage(db_) == Storage::kAnalytic;
    // Views first: Babelfish (PostgreSQL underneath) cannot change a column that a view reads.
    const std::vector<std::string> views = view_sql(SqlFlavor::kMssql);
    for (const std::string& sql : views)
      if (sql.starts_with("DROP VIEW")) db_.exec(sql);
    for (const SecondaryIndex& index : secondary_indexes(SqlFlavor::kMssql))  // built again after the load
      db_.exec(fmt::format("IF EXISTS (SELECT 1 FROM edgarpipe_indexes WHERE name = '{0}') DROP INDEX {0} ON {1}",
                           index.name, index.table));
    db_.exec("DELETE FROM edgarpipe_indexes");
    db_.exec("DROP INDEX facts_key ON facts");
    db_.exec("DROP INDEX ingest_files_key ON ingest_files");
    if (columnstore) db_.exec("DROP INDEX facts_columnstore ON facts");
    std::vector<const TableDef*> text_keyed;  // tables whose primary key has a text column
    for (const TableDef& t : all_tables()) {
      if (t.id == TableId::kFacts) continue;  // keyed by the facts_key index
      const bool text_key = std::any_of(t.key.begin(), t.key.end(), [&](std::string_view k) {
        return std::any_of(t.columns.begin(), t.columns.end(),
                           [&](const Column& c) { return c.name == k && c.type == ColumnType::kText; });
      });
      if (!text_key) continue;
      const auto pk = db_.exec(fmt::format(
          "SELECT name FROM sys.key_constraints WHERE parent_object_id = OBJECT_ID(N'{}') AND type = 'PK'", t.name));
      if (pk.empty() || !pk[0][0])
        throw SinkError(fmt::format("SQL Server: {} has no primary key to make exact", t.name));
      db_.exec(fmt::format("ALTER TABLE {} DROP CONSTRAINT [{}]", t.name, *pk[0][0]));
      text_keyed.push_back(&t);
    }
    // A CHECK constraint blocks ALTER COLUMN too: dropped (its name is the server's) and made again.
    const auto alter = [&](std::string_view table, std::span<const Column> columns) {
      for (const auto& check : db_.exec(
               fmt::format("SELECT name FROM sys.check_constraints WHERE parent_object_id = OBJECT_ID(N'{}')", table)))
        if (check[0]) db_.exec(fmt::format("ALTER TABLE {} DROP CONSTRAINT [{}]", table, *check[0]));
      for (const Column& c : columns) {
        if (c.type != ColumnType::kText) continue;
        db_.exec(fmt::format("ALTER TABLE {} ALTER COLUMN {} {} {}", table, c.name,
                             mssql_text_type(utf8, table, c.name), c.not_null ? "NOT NULL" : "NULL"));
        if (const std::string_view check = column_check(table, c.name); !check.empty())
          db_.exec(fmt::format("ALTER TABLE {} ADD CHECK ({})", table, check));
      }
    };
    for (const TableDef& t : all_tables()) alter(t.name, t.columns);
    alter("ingest_files", ingest_files_columns());
    alter("ingest_runs", ingest_runs_columns());
    const auto joined = [](std::span<const std::string_view> names) {
      std::string out;
      for (const std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
      return out;
    };
    for (const TableDef* t : text_keyed)
      db_.exec(fmt::format("ALTER TABLE {} ADD PRIMARY KEY ({})", t->name, joined(t->key)));
    if (columnstore) db_.exec("CREATE CLUSTERED COLUMNSTORE INDEX facts_columnstore ON facts");
    db_.exec(fmt::format("CREATE UNIQUE INDEX facts_key ON facts ({})", joined(table_def(TableId::kFacts).key)));
    db_.exec("CREATE UNIQUE INDEX ingest_files_key ON ingest_files (dataset, cik, page) WHERE cik IS NOT NULL");
    const auto reload =
        db_.exec("SELECT count(*) FROM ingest_files WHERE dataset = N'companyfacts' AND status = N'loaded'");
    db_.exec(fmt::format(
        "UPDATE ingest_files SET content_hash = N'{}', source_stamp = NULL WHERE dataset = N'companyfacts' AND "
        "status = N'loaded'",
        format_content_hash(0)));  // a hash no document has: changed, so its filer is replaced
    for (const std::string& sql : views) db_.exec(sql);
    log::info(
        "made the text of this database compare exactly (collation {}; it was {}, case-insensitive) in {:.1f} s; its "
        "{} companyfacts documents load again, for concepts that differed only in case",
        utf8 ? kExactCollationUtf8 : kExactCollation, *collation[0][0],
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        reload.empty() || !reload[0][0] ? "0" : *reload[0][0]);
  }

  bool get_run_lock(const char* mode, int timeout_ms) {
    const auto rows = db_.exec(
        fmt::format("DECLARE @applock_result int; EXEC @applock_result = sp_getapplock @Resource = N'edgarpipe_runs', "
                    "@LockMode = N'{}', @LockOwner = N'Session', @LockTimeout = {}; SELECT @applock_result",
                    mode, timeout_ms));
    return !rows.empty() && rows[0][0] && std::stoi(*rows[0][0]) >= 0;  // 0 granted, 1 after waiting
  }
  Connection db_;
};

class MssqlWriter final : public BatchedSinkWriter<CellBuffer> {
 public:
  MssqlWriter(const MssqlOptions& options, std::int64_t run_id)
      : BatchedSinkWriter("SQL Server", run_id, kCommitBytes), db_(options) {
    prepare_session();
    columnstore_ = facts_storage(db_) == Storage::kAnalytic;
  }

  // A bulk insert of fewer than 102,400 rows into a columnstore lands in its delta store (row
  // storage, compressed later by the tuple mover); at least that many go straight into a
  // compressed row group. So the facts wait for that many, or for 30 s at most.
  bool timed_commit_ready(std::chrono::steady_clock::duration since_last) const override {
    if (!columnstore_) return true;
    const std::uint64_t facts = rows_pending(TableId::kFacts);
    return facts == 0 || facts >= kCompressedRowGroupRows || since_last >= std::chrono::seconds(30);
  }

 private:
  static constexpr std::uint64_t kCompressedRowGroupRows = 102'400;
  bool columnstore_ = false;
  static constexpr int kDeadlockRetries = 5;

  void prepare_session() {
    db_.exec(
        "IF OBJECT_ID(N'tempdb..#concepts_stage') IS NULL SELECT TOP 0 * INTO #concepts_stage FROM concepts; "
        "IF OBJECT_ID(N'tempdb..#ingest_stage') IS NULL SELECT TOP 0 * INTO #ingest_stage FROM ingest_files");
  }

  bool connection_broken() const override { return db_.broken(); }
  void reconnect() override {
    db_.reconnect();
    prepare_session();
  }

  std::uint64_t count_of(const std::string& sql) override {
    const auto rows = db_.exec(sql);
    if (rows.size() != 1 || rows[0].empty() || !rows[0][0]) throw SinkError("SQL Server: no count from " + sql);
    return std::stoull(*rows[0][0]);
  }

  bool batch_committed() override {
    const IngestRow& probe = ingest_.front();
    const auto rows = db_.exec(fmt::format("SELECT count(*) FROM ingest_files WHERE source_path = {} AND run_id = {}",
                                           quote(probe.source_path), run_id_));
    return !rows.empty() && rows[0][0] && *rows[0][0] != "0";
  }

  CommitReport try_commit() override {
    for (int attempt = 1;; ++attempt) {
      db_.exec("BEGIN TRANSACTION");
      std::optional<StatementError> error = delete_replaced();
      concepts_inserted_ = 0;
      if (!error) error = send_span(whole_batch(), concepts_inserted_);
      if (!error) error = write_ingest_rows(ingest_);
      if (!error) {
        db_.exec("COMMIT TRANSACTION");
        return finish_commit();
      }
      db_.reset_after_error();
      if (db_.broken()) throw SinkError(error->message);
      if (retry_later(*error, attempt)) continue;
      if (!error->data_error) throw SinkError(error->message);
      return replay_file_by_file();
    }
  }

  // The server refused a row: each file in its own transaction, so only the offending ones are
  // rejected and every other file still loads whole, with its ingest_files row.
  CommitReport replay_file_by_file() {
    // Replaced filers' old rows go first, in a transaction of their own: between it and the
    // files' transactions, the filers have neither rows nor 'loaded' files (the invariant holds).
    db_.exec("BEGIN TRANSACTION");
    if (auto e = delete_replaced()) {
      db_.reset_after_error();
      throw SinkError(e->message);
    }
    db_.exec("COMMIT TRANSACTION");
    concepts_inserted_ = 0;
    for (IngestRow& file : ingest_) {
      if (!file.loaded) continue;
      for (int attempt = 1;; ++attempt) {
        db_.exec("BEGIN TRANSACTION");
        std::uint64_t inserted = 0;
        std::optional<StatementError> e = send_span(spans_[file.span], inserted);
        if (!e) e = write_ingest_rows(std::span<const IngestRow>(&file, 1));
        if (!e) {
          db_.exec("COMMIT TRANSACTION");
          concepts_inserted_ += inserted;
          break;
        }
        db_.reset_after_error();
        if (db_.broken()) throw SinkError(e->message);
        if (retry_later(*e, attempt)) continue;
        if (!e->data_error) throw SinkError(e->message);
        refused(file, *e);
        break;
      }
    }
    std::vector<IngestRow> rejected;
    for (const IngestRow& file : ingest_)
      if (!file.loaded && !file.loaded_elsewhere) rejected.push_back(file);
    db_.exec("BEGIN TRANSACTION");
    if (auto e = write_ingest_rows(rejected)) {
      db_.reset_after_error();
      throw SinkError(e->message);
    }
    db_.exec("COMMIT TRANSACTION");
    return finish_commit();
  }

  // Whether a failed (and rolled back) transaction is to be sent again: a deadlock victim, or a
  // concept another writer inserted first. A conflict that outlasts the retries ends the writer
  // (the supervisor restarts it): it is never a file's fault.
  bool retry_later(const StatementError& e, int attempt) const {
    if (!e.deadlock && !e.conflict) return false;
    if (attempt >= kDeadlockRetries) {
      if (e.conflict) throw SinkError(fmt::format("{} (still after {} attempts)", e.message, attempt));
      return false;
    }
    log::warning("writer: {}; sending the batch again (attempt {} of {})",
                 e.deadlock ? "chosen as a deadlock victim" : "another writer inserted the same concepts first",
                 attempt + 1, kDeadlockRetries);
    return true;
  }

  // As in the PostgreSQL sink: a transaction-scoped application lock per filer the batch touches,
  // exclusive to replace and shared to insert, in CIK order, so that a replacement's DELETEs and a
  // concurrent writer's rows of the same filer cannot interleave.
  std::optional<StatementError> delete_replaced() {
    std::string locks;
    for (const auto& [cik, exclusive] : filers_to_lock())
      locks += fmt::format(
          "EXEC sp_getapplock @Resource = N'edgarpipe-filer-{}', @LockMode = N'{}', @LockOwner = N'Transaction'; ", cik,
          exclusive ? "Exclusive" : "Shared");
    if (!locks.empty())
      if (auto e = db_.try_exec(locks)) return e;
    for (const auto& [dataset, cik] : replaced_)
      for (const std::string& sql : replace_filer_sql(dataset, cik))
        if (auto e = db_.try_exec(sql)) return e;
    return std::nullopt;
  }

  std::optional<StatementError> send_span(const FileSpan& span, std::uint64_t& concepts_inserted) {
    const bool tablock = db_.options().tablock;
    for (const TableDef& def : all_tables()) {
      const auto t = static_cast<std::size_t>(def.id);
      if (span.end[t] == span.start[t]) continue;
      const std::string_view cells(tables_[t].data() + span.start[t], span.end[t] - span.start[t]);
      const std::uint64_t rows = span.rows[t];
      if (def.id == TableId::kConcepts) {
        if (auto e = bulk_copy(db_, "#concepts_stage", def.columns, cells, rows, false)) return e;
        std::int64_t inserted = 0;
        // UPDLOCK+HOLDLOCK: two writers inserting the same new concept serialise on its key.
        if (auto e = db_.try_exec(
                "WITH s AS (SELECT taxonomy, concept, label, description, ROW_NUMBER() OVER (PARTITION BY "
                "taxonomy, concept ORDER BY (SELECT 0)) AS n FROM #concepts_stage) "
                "INSERT INTO concepts (taxonomy, concept, label, description) "
                "SELECT taxonomy, concept, label, description FROM s WHERE n = 1 AND NOT EXISTS (SELECT 1 FROM "
                "concepts c WITH (UPDLOCK, HOLDLOCK) WHERE c.taxonomy = s.taxonomy AND c.concept = s.concept); "
                "TRUNCATE TABLE #concepts_stage",
                nullptr, &inserted)) {
          // Under a server that does not honour the hints (Babelfish) another writer can still
          // insert the same concept between the check and the insert.
          e->conflict = e->number == 2627 || e->number == 2601;
          return e;
        }
        concepts_inserted += static_cast<std::uint64_t>(inserted);
      } else {
        if (auto e = bulk_copy(db_, std::string(def.name), def.columns, cells, rows, tablock)) return e;
      }
    }
    return std::nullopt;
  }

  std::optional<StatementError> write_ingest_rows(std::span<const IngestRow> files) {
    if (files.empty()) return std::nullopt;
    CellBuffer cells;
    const bool utf8 = db_.options().utf8_text;
    for (const IngestRow& f : files) {
      cells.text(f.dataset, utf8);
      if (f.cik >= 0) {
        cells.integer(f.cik);
        cells.integer(f.page);
      } else {
        cells.null();
        cells.null();
      }
      cells.text(f.source_file, utf8);
      cells.text(f.source_path, utf8);
      cells.integer(static_cast<std::int64_t>(f.bytes));
      if (f.content_hash != 0)
        cells.text(format_content_hash(f.content_hash), utf8);
      else
        cells.null();
      cells.text(f.loaded ? "loaded" : "rejected", utf8);
      cells.integer(static_cast<std::int64_t>(f.loaded ? f.rows : 0));
      if (f.loaded)
        cells.null();
      else
        cells.text(f.error, utf8);
      cells.integer(run_id_);
      cells.raw(f.loaded_at);
      if (f.source_stamp != 0)
        cells.integer(static_cast<std::int64_t>(f.source_stamp));
      else
        cells.null();
    }
    if (auto e =
            bulk_copy(db_, "#ingest_stage", ingest_files_columns(), {cells.data(), cells.size()}, files.size(), false))
      return e;
    // No MERGE (Babelfish does not run it, and it is unsafe for concurrent upserts without
    // HOLDLOCK anyway): a key-less row replaces its path's, a keyed one is updated in place under
    // UPDLOCK+HOLDLOCK (so a concurrent writer cannot insert the same key between the two
    // statements) or inserted.
    return db_.try_exec(
        "DELETE t FROM ingest_files t JOIN #ingest_stage s ON t.cik IS NULL AND s.cik IS NULL AND "
        "t.source_path = s.source_path; "
        "UPDATE t SET source_file = s.source_file, source_path = s.source_path, bytes = s.bytes, "
        "content_hash = s.content_hash, status = s.status, rows = s.rows, error = s.error, run_id = s.run_id, "
        "loaded_at = s.loaded_at, source_stamp = s.source_stamp FROM ingest_files t WITH (UPDLOCK, HOLDLOCK) "
        "JOIN #ingest_stage s "
        "ON t.dataset = s.dataset AND t.cik = s.cik AND t.page = s.page; "
        "INSERT INTO ingest_files (dataset, cik, page, source_file, source_path, bytes, content_hash, status, rows, "
        "error, run_id, loaded_at, source_stamp) SELECT s.dataset, s.cik, s.page, s.source_file, s.source_path, "
        "s.bytes, s.content_hash, s.status, s.rows, s.error, s.run_id, s.loaded_at, s.source_stamp FROM "
        "#ingest_stage s WHERE s.cik IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM ingest_files t WITH (UPDLOCK, HOLDLOCK) WHERE t.dataset = s.dataset AND "
        "t.cik = s.cik AND t.page = s.page); "
        "TRUNCATE TABLE #ingest_stage");
  }

  Connection db_;
};

}  // namespace

std::unique_ptr<SinkAdmin> open_mssql_admin(const std::string& url) {
  return std::make_unique<MssqlAdmin>(parse_options(url));
}
std::unique_ptr<SinkWriter> open_mssql_writer(const std::string& url, std::int64_t run_id) {
  return std::make_unique<MssqlWriter>(parse_options(url), run_id);
}
std::string mssql_schema_sql(const std::string& url, Storage storage) {
  const MssqlOptions o = parse_options(url);
  std::string sql;
  if (!o.schema.empty())
    sql = fmt::format(
        "-- schema={0}: the tables go to the login's default schema, which must be [{0}]:\n"
        "--   CREATE SCHEMA [{0}]; ALTER USER <user> WITH DEFAULT_SCHEMA = [{0}];\n",
        o.schema);
  return sql + build_schema(o.utf8_text, storage);
}
std::string mssql_url_schema(const std::string& url) { return parse_options(url).schema; }
bool mssql_url_utf8_text(const std::string& url) { return parse_options(url).utf8_text; }

}  // namespace edgarpipe
