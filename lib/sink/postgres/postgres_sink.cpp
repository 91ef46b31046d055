// The PostgreSQL sink: rows go in with COPY ... FROM STDIN (FORMAT binary), one COPY per table per
// commit, so the database, not our code, sets the pace.
//
// The parsers encode every row as a binary COPY tuple already (BatchEncoding::kPgCopy); a writer
// appends the tuples of the files it ends to one buffer per table (bounded: it asks to commit past
// kCommitBytes) and, at commit, sends each table's tuples in one COPY inside one transaction, plus
// every file's ingest_files row. If the database refuses a row (a data or constraint error), the
// transaction is rolled back and replayed file by file, each under a savepoint, so only the
// offending file is rejected and every other file still loads whole.
//
// Concepts repeat across files and ingest_files rows may replace earlier ones, so both go through
// temporary staging tables and INSERT ... ON CONFLICT, ordered by key so that concurrent writers
// take row locks in the same order (no deadlock between writers).
//
// Credentials never appear on the command line: libpq reads PGPASSWORD, ~/.pgpass and service
// files itself; parse_sink_url refuses a password in the URL.
#include <libpq-fe.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "batched_sink_writer.hpp"
#include "edgarpipe/batch/pg_binary.hpp"
#include "edgarpipe/sink/sink.hpp"

namespace edgarpipe {

namespace {

constexpr int kFilerLockSpace = 0x45505046;  // advisory lock key space of filers ("EPPF")

constexpr std::size_t kCommitBytes = 16 << 20;

// Analytic storage hash-partitions facts by cik: a filer's facts are in one partition (its
// replacement deletes from one), parallel writers mostly land in different ones, and every index
// is per partition, so each is a sixteenth of the size. The key index includes cik, as a unique
// index on a partitioned table must.
// Text compares by its bytes (COLLATE "C"), as in SQLite: keys, ORDER BY and LIKE agree across
// the sinks, and sorts take memcmp with abbreviated keys instead of strcoll (a database's default
// C.UTF-8 or en_US collation): the filings indexes of a 100k-file load built in 29 s instead of
// 43 s (docs/performance.md).
std::string build_schema(Storage storage) {
  SqlDialect d{[](ColumnType t, std::string_view, std::string_view) {
                 return t == ColumnType::kText ? std::string("TEXT COLLATE \"C\"")
                                               : std::string(sql_type_name(t, SqlFlavor::kPostgres));
               },
               "COALESCE(period_start, '-infinity'::date)", "BIGSERIAL PRIMARY KEY", create_table_if_absent,
               create_unique_index_if_absent};
  if (storage == Storage::kAnalytic) {
    d.facts_table_suffix = " PARTITION BY HASH (cik)";
    for (std::uint32_t p = 0; p < kFactsPartitions; ++p)
      d.facts_storage_ddl += fmt::format(
          "CREATE TABLE IF NOT EXISTS facts_p{:02} PARTITION OF facts FOR VALUES WITH (MODULUS {}, REMAINDER {});\n", p,
          kFactsPartitions, p);
  }
  return contract_ddl(d);
}

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class Connection {
 public:
  explicit Connection(const std::string& conninfo) : conninfo_(conninfo) { connect(); }

  // Drops the connection and opens a new one (after the server went away).
  void reconnect() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    connect();
  }
  bool broken() const noexcept { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

 private:
  void connect() {
    conn_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      PQfinish(conn_);
      conn_ = nullptr;
      throw SinkError("cannot connect to PostgreSQL: " + message);
    }
    try {
      exec("SET client_encoding = 'UTF8'");
      exec("SET client_min_messages = warning");  // no NOTICE per CREATE ... IF NOT EXISTS on every run
      // A backend busy in one long statement (CREATE INDEX) notices a killed client only at its
      // end, holding the run lock till then; this makes it look every second (PostgreSQL 14+;
      // older servers reject the setting and keep the old behaviour, which the rerun's wait covers).
      (void)try_exec("SET client_connection_check_interval = 1000");
      const char* integer_datetimes = PQparameterStatus(conn_, "integer_datetimes");
      if (integer_datetimes == nullptr || std::string_view(integer_datetimes) != "on")
        throw SinkError("PostgreSQL server without integer datetimes is not supported");
    } catch (...) {  // from the constructor, no destructor would finish the connection
      PQfinish(conn_);
      conn_ = nullptr;
      throw;
    }
  }

 public:
  ~Connection() {
    if (conn_) PQfinish(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const noexcept { return conn_; }

  // Runs SQL; throws SinkError on any failure.
  Result exec(const std::string& sql) {
    Result r(PQexec(conn_, sql.c_str()));
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw SinkError("PostgreSQL: " + message_of(r.get()));
    return r;
  }

  // Runs SQL; returns the error instead of throwing (for statements inside a file's savepoint).
  std::optional<StatementError> try_exec(const std::string& sql, std::uint64_t* affected = nullptr) {
    Result r(PQexec(conn_, sql.c_str()));
    const auto status = PQresultStatus(r.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (affected) *affected = std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
      return std::nullopt;
    }
    return error_of(r.get());
  }

  // COPY table FROM STDIN (FORMAT binary) with the given tuples (without header and trailer).
  std::optional<StatementError> copy(const std::string& target, std::string_view tuples) {
    Result start(PQexec(conn_, fmt::format("COPY {} FROM STDIN (FORMAT binary)", target).c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) return error_of(start.get());
    bool sent = put(pg::CopyBuffer::kHeader) && put(tuples) && put(pg::CopyBuffer::kTrailer);
    if (PQputCopyEnd(conn_, sent ? nullptr : "client failed to send") != 1) sent = false;
    std::optional<StatementError> error;
    while (PGresult* raw = PQgetResult(conn_)) {
      Result r(raw);
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && !error) error = error_of(r.get());
    }
    if (!sent && !error) error = StatementError{PQerrorMessage(conn_), false};
    return error;
  }

 private:
  bool put(std::string_view bytes) {
    // libpq copies what it is given into its output buffer, which it grows to fit and never
    // shrinks: pieces of 256 KiB keep that buffer small instead of a second copy of the batch.
    while (!bytes.empty()) {
      const std::size_t n = std::min<std::size_t>(bytes.size(), 256 << 10);
      if (PQputCopyData(conn_, bytes.data(), static_cast<int>(n)) != 1) return false;
      bytes.remove_prefix(n);
    }
    return true;
  }
  std::string message_of(const PGresult* r) const {
    std::string m = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    if (m.empty()) m = PQerrorMessage(conn_);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    for (char& c : m)
      if (c == '\n') c = ' ';  // one line, for logs and ingest_files.error
    return m;
  }
  StatementError error_of(const PGresult* r) const {
    StatementError e;
    e.message = message_of(r);
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    e.data_error =
        state && (std::string_view(state).substr(0, 2) == "22" || std::string_view(state).substr(0, 2) == "23");
    return e;
  }

  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

class PostgresAdmin final : public SinkAdmin {
 public:
  PostgresAdmin(const std::string& conninfo, std::string schema) : db_(conninfo), schema_(std::move(schema)) {}
  ~PostgresAdmin() override {
    if (cancel_) PQfreeCancel(cancel_);
  }
  // The server refuses every write of this session (open_sink_admin's read_only).
  void refuse_writes() { db_.exec("SET default_transaction_read_only = on"); }

  void limit_index_memory(std::uint64_t bytes) override {
    db_.exec(fmt::format("SET maintenance_work_mem = '{}kB'", std::max<std::uint64_t>(bytes / 1024, 1024)));
    if (!cancel_) cancel_ = PQgetCancel(db_.get());  // made here: cancel() runs on another thread
  }
  void cancel() noexcept override {
    char why[256];
    if (cancel_) PQcancel(cancel_, why, sizeof why);
  }

  std::optional<Storage> stored_as() override {
    const auto rows = execute(
        "SELECT relkind FROM pg_class WHERE relname = 'facts' AND relnamespace = current_schema()::regnamespace");
    if (rows.empty() || !rows[0][0]) return std::nullopt;
    return *rows[0][0] == "p" ? Storage::kAnalytic : Storage::kRow;  // 'p': a partitioned table
  }

  void create_schema() override {
    // Serialise concurrent first runs: CREATE ... IF NOT EXISTS races on the catalog otherwise.
    db_.exec("BEGIN");
    db_.exec("SELECT pg_advisory_xact_lock(7254389471)");
    // schema=: the connection's search_path names it already (sink.cpp); it may not exist yet.
    if (!schema_.empty()) db_.exec(fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\"", schema_));
    try {
      apply_schema({"", "ALTER TABLE ingest_files RENAME TO ingest_files_v1",
                    "to_char(loaded_at, 'YYYY-MM-DD HH24:MI:SS.US')", build_schema(storage_), false,
                    SqlFlavor::kPostgres, [this](const std::string& sql) { db_.exec(sql); }});
    } catch (...) {
      PQclear(PQexec(db_.get(), "ROLLBACK"));
      throw;
    }
    db_.exec("COMMIT");
  }

  std::int64_t begin_run(const RunStart& run) override {
    const std::string started = utc_now();
    const std::string readers = std::to_string(run.readers), parsers = std::to_string(run.parsers),
                      writers = std::to_string(run.writers);
    const char* values[] = {started.c_str(), run.sources.c_str(), run.sink.c_str(),
                            readers.c_str(), parsers.c_str(),     writers.c_str()};
    Result r(PQexecParams(db_.get(),
                          "INSERT INTO ingest_runs (started_at, status, sources, sink, files_seen, files_loaded, "
                          "files_skipped, files_rejected, rows_written, readers, parsers, writers) "
                          "VALUES ($1, 'running', $2, $3, 0, 0, 0, 0, 0, $4, $5, $6) RETURNING run_id",
                          6, nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      throw SinkError("PostgreSQL: cannot record the run: " + std::string(PQresultErrorMessage(r.get())));
    return std::stoll(PQgetvalue(r.get(), 0, 0));
  }

  void finish_run(std::int64_t run_id, const RunTotals& t) override {
    // The run may have outlived this connection (a server restart mid-load): one fresh try.
    if (db_.broken() || PQstatus(db_.get()) != CONNECTION_OK) db_.reconnect();
    Result ping(PQexec(db_.get(), "SELECT 1"));
    if (PQresultStatus(ping.get()) != PGRES_TUPLES_OK) db_.reconnect();
    const std::string finished = utc_now(), seen = std::to_string(t.files_seen),
                      loaded = std::to_string(t.files_loaded), skipped = std::to_string(t.files_skipped),
                      rejected = std::to_string(t.files_rejected), rows = std::to_string(t.rows_written),
                      id = std::to_string(run_id);
    const char* values[] = {finished.c_str(), t.status.c_str(), seen.c_str(), loaded.c_str(),
                            skipped.c_str(),  rejected.c_str(), rows.c_str(), id.c_str()};
    Result r(PQexecParams(db_.get(),
                          "UPDATE ingest_runs SET finished_at = $1, status = $2, files_seen = $3, files_loaded = $4, "
                          "files_skipped = $5, files_rejected = $6, rows_written = $7 WHERE run_id = $8",
                          8, nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      throw SinkError("PostgreSQL: cannot finish the run: " + std::string(PQresultErrorMessage(r.get())));
  }

  std::vector<TextRow> execute(const std::string& sql) override {
    // The run may have outlived this connection (a server restart mid-load): the statements the
    // supervisor sends are idempotent, so one is tried again on a fresh connection.
    Result r = [&] {
      try {
        return db_.exec(sql);
      } catch (const SinkError&) {
        if (!db_.broken()) throw;
        db_.reconnect();
        return db_.exec(sql);
      }
    }();
    std::vector<TextRow> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      TextRow row;
      for (int j = 0; j < PQnfields(r.get()); ++j)
        row.push_back(PQgetisnull(r.get(), i, j) ? std::nullopt
                                                 : std::optional<std::string>(PQgetvalue(r.get(), i, j)));
      rows.push_back(std::move(row));
    }
    return rows;
  }

  LoadedFiles loaded_files() override {
    LoadedFiles map;
    Result r = db_.exec(
        "SELECT dataset, cik, page, content_hash, source_stamp FROM ingest_files WHERE status = 'loaded' AND cik IS "
        "NOT NULL");
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::uint64_t h;
      if (!PQgetisnull(r.get(), i, 3) && parse_content_hash(PQgetvalue(r.get(), i, 3), h))
        map[{dataset_from_name(PQgetvalue(r.get(), i, 0)), std::stoll(PQgetvalue(r.get(), i, 1)),
             std::stoi(PQgetvalue(r.get(), i, 2))}] = {
            h, PQgetisnull(r.get(), i, 4) ? 0 : static_cast<std::uint64_t>(std::stoll(PQgetvalue(r.get(), i, 4)))};
    }
    return map;
  }

  void delete_filer(Dataset dataset, std::int64_t cik) override {
    db_.exec("BEGIN");
    try {
      db_.exec(fmt::format("SELECT pg_advisory_xact_lock({}, {})", kFilerLockSpace, cik));
      for (const std::string& sql : replace_filer_sql(dataset, cik)) db_.exec(sql);
      db_.exec("COMMIT");
    } catch (...) {
      PQclear(PQexec(db_.get(), "ROLLBACK"));
      throw;
    }
  }

 protected:
  // A session-level advisory lock: it goes with the connection, so with the supervisor. Advisory
  // locks are per database; the second key is the schema's, so edgarpipe databases in two
  // schemas of one database (schema=) do not take each other's runs for their own.
  static constexpr const char* kRunLock = "1162891346, hashtext(current_schema())";  // "EPPR": edgarpipe runs
  SqlFlavor flavor() const override { return SqlFlavor::kPostgres; }
  bool has_layout_1() override {
    Result r = db_.exec(
        "SELECT count(*), count(*) FILTER (WHERE column_name = 'page') FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'ingest_files'");
    return std::string_view(PQgetvalue(r.get(), 0, 0)) != "0" && std::string_view(PQgetvalue(r.get(), 0, 1)) == "0";
  }
  bool try_lock_runs_exclusive() override {
    return PQgetvalue(db_.exec(fmt::format("SELECT pg_try_advisory_lock({})", kRunLock)).get(), 0, 0)[0] == 't';
  }
  void unlock_runs_exclusive() override { db_.exec(fmt::format("SELECT pg_advisory_unlock({})", kRunLock)); }
  void lock_runs_shared() override { db_.exec(fmt::format("SELECT pg_advisory_lock_shared({})", kRunLock)); }

 private:
  Connection db_;
  std::string schema_;          // schema= of the sink URL, or empty
  PGcancel* cancel_ = nullptr;  // for cancel(), made by limit_index_memory
};

std::string column_list(const TableDef& t) {
  std::string cols;
  for (const Column& c : t.columns) cols += (cols.empty() ? "" : ", ") + std::string(c.name);
  return cols;
}

class PostgresWriter final : public BatchedSinkWriter<pg::CopyBuffer> {
 public:
  PostgresWriter(const std::string& conninfo, std::int64_t run_id)
      : BatchedSinkWriter("PostgreSQL", run_id, kCommitBytes), db_(conninfo) {
    prepare_session();
  }

 private:
  void prepare_session() {
    db_.exec("CREATE TEMP TABLE IF NOT EXISTS concepts_stage (LIKE concepts) ON COMMIT DELETE ROWS");
    db_.exec("CREATE TEMP TABLE IF NOT EXISTS ingest_stage (LIKE ingest_files) ON COMMIT DELETE ROWS");
  }

  bool connection_broken() const override { return db_.broken(); }
  void reconnect() override {
    db_.reconnect();
    prepare_session();
  }

  std::uint64_t count_of(const std::string& sql) override {
    Result r(PQexec(db_.get(), sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1)
      throw SinkError("PostgreSQL: " + std::string(PQresultErrorMessage(r.get())));
    return std::stoull(PQgetvalue(r.get(), 0, 0));
  }

  bool batch_committed() override {
    const IngestRow& probe = ingest_.front();
    const std::string id = std::to_string(run_id_);
    const char* values[] = {probe.source_path.c_str(), id.c_str()};
    Result r(PQexecParams(db_.get(), "SELECT count(*) FROM ingest_files WHERE source_path = $1 AND run_id = $2", 2,
                          nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
      throw SinkError("PostgreSQL: " + std::string(PQresultErrorMessage(r.get())));
    return std::string_view(PQgetvalue(r.get(), 0, 0)) != "0";
  }

  // Replaced filers lose their old rows first, in the transaction that brings the new ones.
  // Under READ COMMITTED a replacement's DELETEs are separate snapshots, so a concurrent writer
  // committing rows of the same filer between them could leave rows without their 'loaded'
  // file: every batch first takes a transaction-scoped advisory lock per filer it touches,
  // exclusive to replace, shared to insert, in CIK order (so writers cannot deadlock).
  void delete_replaced() {
    if (const auto filers = filers_to_lock(); !filers.empty()) {
      std::string values;
      for (const auto& [cik, exclusive] : filers)
        values += fmt::format("{}({}, {})", values.empty() ? "" : ", ", cik, exclusive ? "true" : "false");
      db_.exec(fmt::format(
          "DO $$DECLARE r record; BEGIN FOR r IN SELECT * FROM (VALUES {}) AS v(cik, exclusive) ORDER BY cik LOOP "
          "IF r.exclusive THEN PERFORM pg_advisory_xact_lock({}, r.cik::int); "
          "ELSE PERFORM pg_advisory_xact_lock_shared({}, r.cik::int); END IF; END LOOP; END$$",
          values, kFilerLockSpace, kFilerLockSpace));
    }
    for (const auto& [dataset, cik] : replaced_)
      for (const std::string& sql : replace_filer_sql(dataset, cik)) db_.exec(sql);
  }

  CommitReport try_commit() override {
    db_.exec("BEGIN");
    delete_replaced();
    std::uint64_t concepts_inserted = 0;
    std::optional<StatementError> error = send_span(whole_batch(), concepts_inserted);
    if (error && !error->data_error) throw SinkError("PostgreSQL: " + error->message);
    if (error) {
      // The database refused a row: replay file by file, each under a savepoint.
      db_.exec("ROLLBACK");
      db_.exec("BEGIN");
      delete_replaced();
      concepts_inserted = 0;
      for (IngestRow& file : ingest_) {
        if (!file.loaded) continue;
        db_.exec("SAVEPOINT file");
        std::uint64_t inserted = 0;
        std::optional<StatementError> e = send_span(spans_[file.span], inserted);
        if (e && !e->data_error) throw SinkError("PostgreSQL: " + e->message);
        if (e) {
          db_.exec("ROLLBACK TO SAVEPOINT file");
          refused(file, *e);
        } else {
          concepts_inserted += inserted;
        }
        db_.exec("RELEASE SAVEPOINT file");
      }
    }
    write_ingest_rows();
    concepts_inserted_ = concepts_inserted;
    db_.exec("COMMIT");
    return finish_commit();
  }

  // Concepts go last: their INSERT ... ON CONFLICT makes another writer inserting the same
  // concept wait for this transaction to end, so the rows are taken just before COMMIT, not
  // before this batch's facts (sent first, a writer held them through its whole facts COPY and
  // the other writer's backend sat in Lock:transactionid).
  std::optional<StatementError> send_span(const FileSpan& span, std::uint64_t& concepts_inserted) {
    const auto tuples_of = [&](TableId id) {
      const auto t = static_cast<std::size_t>(id);
      return std::string_view(tables_[t].bytes().data() + span.start[t], span.end[t] - span.start[t]);
    };
    for (const TableDef& def : all_tables()) {
      const std::string_view tuples = tuples_of(def.id);
      if (def.id == TableId::kConcepts || tuples.empty()) continue;
      if (auto e = db_.copy(fmt::format("{} ({})", def.name, column_list(def)), tuples)) return e;
    }
    const std::string_view concepts = tuples_of(TableId::kConcepts);
    if (concepts.empty()) return std::nullopt;
    if (auto e = db_.copy("concepts_stage", concepts)) return e;
    if (auto e = db_.try_exec("INSERT INTO concepts SELECT * FROM concepts_stage ORDER BY taxonomy, concept "
                              "ON CONFLICT DO NOTHING",
                              &concepts_inserted))
      return e;
    return db_.try_exec("DELETE FROM concepts_stage");
  }

  void write_ingest_rows() {
    pg::CopyBuffer rows;
    for (const IngestRow& f : ingest_) {
      if (f.loaded_elsewhere) continue;  // the other run's row stays
      rows.begin_tuple(13);
      rows.text(f.dataset);
      if (f.cik >= 0) {
        rows.int64(f.cik);
        rows.int32(f.page);
      } else {
        rows.null();
        rows.null();
      }
      rows.text(f.source_file);
      rows.text(f.source_path);
      rows.int64(static_cast<std::int64_t>(f.bytes));
      if (f.content_hash != 0)
        rows.text(format_content_hash(f.content_hash));
      else
        rows.null();
      rows.text(f.loaded ? "loaded" : "rejected");
      rows.int64(static_cast<std::int64_t>(f.loaded ? f.rows : 0));
      if (f.loaded)
        rows.null();
      else
        rows.text(f.error);
      rows.int64(run_id_);
      rows.timestamp(f.loaded_at);
      if (f.source_stamp != 0)
        rows.int64(static_cast<std::int64_t>(f.source_stamp));
      else
        rows.null();
    }
    if (auto e = db_.copy("ingest_stage", rows.bytes())) throw SinkError("PostgreSQL: " + e->message);
    // A key-less row (cik NULL) takes the place of its path's earlier one; a keyed row the key's.
    db_.exec(
        "DELETE FROM ingest_files t USING ingest_stage s WHERE t.cik IS NULL AND s.cik IS NULL AND "
        "t.source_path = s.source_path");
    db_.exec(
        "INSERT INTO ingest_files SELECT * FROM ingest_stage ORDER BY dataset, cik, page "
        "ON CONFLICT (dataset, cik, page) DO UPDATE SET source_file = EXCLUDED.source_file, "
        "source_path = EXCLUDED.source_path, bytes = EXCLUDED.bytes, "
        "content_hash = EXCLUDED.content_hash, status = EXCLUDED.status, rows = EXCLUDED.rows, "
        "error = EXCLUDED.error, run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at, "
        "source_stamp = EXCLUDED.source_stamp");
    db_.exec("DELETE FROM ingest_stage");
  }

  Connection db_;
};

}  // namespace

std::unique_ptr<SinkAdmin> open_postgres_admin(const std::string& conninfo, const std::string& schema, bool read_only) {
  auto admin = std::make_unique<PostgresAdmin>(conninfo, schema);
  if (read_only) admin->refuse_writes();
  return admin;
}
std::unique_ptr<SinkWriter> open_postgres_writer(const std::string& conninfo, std::int64_t run_id) {
  return std::make_unique<PostgresWriter>(conninfo, run_id);
}
std::string postgres_schema_sql(const std::string& schema, Storage storage) {
  if (schema.empty()) return build_schema(storage);
  return fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\";\nSET search_path TO \"{}\";\n", schema, schema) +
         build_schema(storage);
}

}  // namespace edgarpipe
