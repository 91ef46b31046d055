// Sinks: where rows end up. A sink URL names one (`sqlite:PATH`, `postgresql://...` or a libpq
// key=value conninfo, `mssql://user@host:port/database`, `null:`).
//
// - SinkAdmin is the supervisor's handle: schema, the ingest_runs row, and which files are
//   already loaded (so readers can skip them by content hash).
// - SinkWriter is a writer process's handle: it applies row batches file by file. A file is
//   all-or-nothing: begin_file opens a savepoint, end_file releases it (and writes the file's
//   ingest_files row in the same transaction) or rolls it back. Transactions span many files and
//   are committed by commit(), which the writer calls only between files and which reports what
//   became durable (sinks that buffer, like PostgreSQL's COPY, only know a file's fate then).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgarpipe/row_batch.hpp"
#include "edgarpipe/tables.hpp"

namespace edgarpipe {

// A database problem that ends the writer (disk full, I/O error, lost connection...).
struct SinkError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SinkUrl {
  enum class Kind { kSqlite, kPostgres, kMssql, kNull } kind = Kind::kSqlite;
  std::string target;  // the database path for sqlite, the conninfo for postgres, the URL for mssql
  std::string text;    // as given, for logs and ingest_runs.sink (never holds secrets)
  // PostgreSQL and SQL Server: the schema the tables live in (`schema=NAME` in the URL; a
  // lowercase identifier, checked, and quoted wherever it reaches SQL). Empty: the default.
  std::string schema;
};
// Throws UsageError (sources.hpp) for an unknown scheme.
SinkUrl parse_sink_url(std::string_view url);
// How parsers encode rows for this sink: PostgreSQL takes its binary COPY tuples ready-made;
// the others read tagged values.
BatchEncoding batch_encoding_for(const SinkUrl& url);
// A PostgreSQL sink text (URI or conninfo) with its schema= set to `schema` (any other dropped).
std::string with_schema(std::string_view postgres_sink, std::string_view schema);

struct RunStart {
  std::string sources;  // the PATH arguments, space-separated
  std::string sink;
  std::uint32_t readers = 0, parsers = 0, writers = 0;
};

struct RunTotals {
  std::string status;  // 'completed' | 'failed' | 'interrupted'
  std::uint64_t files_seen = 0, files_loaded = 0, files_skipped = 0, files_rejected = 0, rows_written = 0;
};

class SinkAdmin {
 public:
  virtual ~SinkAdmin() = default;
  virtual void create_schema() = 0;  // idempotent
  virtual std::int64_t begin_run(const RunStart& run) = 0;
  virtual void finish_run(std::int64_t run_id, const RunTotals& totals) = 0;
  // source_file -> content hashes with status 'loaded'.
  virtual std::unordered_map<std::string, std::vector<std::uint64_t>> loaded_hashes() = 0;
  // Rows of a read-only query as text (nullopt for NULL), for `status` and `rejects`: the SQL they
  // use is the same in every dialect.
  using TextRow = std::vector<std::optional<std::string>>;
  virtual std::vector<TextRow> query(const std::string& sql) = 0;

  // Liveness of runs. Every supervisor holds the sink's run lock shared while it runs. The lock
  // belongs to its connection (PostgreSQL advisory lock, SQL Server applock, both session-owned)
  // or open file (flock on the SQLite database), so a supervisor killed with kill -9 drops it.
  // Called before begin_run: if the lock can be taken exclusively, no run is alive, and every
  // run still marked 'running' died without finishing; those become 'interrupted' (while the
  // lock is exclusive, so no starting run is marked by mistake). Then the lock is held shared
  // until this admin is destroyed. Returns how many runs were marked.
  std::uint64_t interrupt_dead_runs();

  // --prune: deletes a filer's rows in the dataset's tables and the ingest_files rows of its
  // files there (replace_filer_sql), in one transaction, under the filer's exclusive lock.
  virtual void delete_filer(Dataset dataset, std::int64_t cik) = 0;

  // Why a source name cannot be recorded in ingest_files.source_file (asked of every input before
  // a run starts), or nullopt. SQL Server's column is bounded and FreeTDS would truncate a longer
  // name silently, after which skip-if-loaded would no longer find the file.
  virtual std::optional<std::string> refuse_source_name(std::string_view) const { return std::nullopt; }

 protected:
  virtual bool try_lock_runs_exclusive() = 0;
  virtual void unlock_runs_exclusive() = 0;
  virtual void lock_runs_shared() = 0;  // waits while another admin holds it exclusive
};

struct FileMeta {
  std::uint32_t file_index = 0;
  std::string_view source_file;
  std::uint64_t bytes = 0;
  std::uint64_t content_hash = 0;
  // The file was loaded before with other content (or --force): its filer is replaced.
  bool replaces = false;
};

// Replacing a filer (../shared/edgar-tables.md: a newer snapshot replaces what changed). Every
// sink keeps one invariant at each commit: a filer's rows in a dataset's tables are exactly the
// rows of its files that have a 'loaded' ingest_files row. A file that replaces its filer runs
// these statements in its own transaction, before its rows: the filer's rows go, and so do the
// ingest_files rows of all its files in the dataset, so files of the filer that were skipped as
// unchanged are no longer 'loaded' and the run loads them again (Supervisor: the second pass).
std::vector<std::string> replace_filer_sql(Dataset dataset, std::int64_t cik);
// The CIK in a source file name (CIK0000320193.json, CIK0000320193-submissions-001.json), or -1.
std::int64_t cik_of_source(std::string_view source_file) noexcept;
// The dataset a data table belongs to.
Dataset dataset_of(TableId table) noexcept;

struct Rejection {
  std::uint32_t file_index = 0;
  std::string error;  // as stored in ingest_files.error
};

// What one commit made durable.
struct CommitReport {
  std::uint64_t files_loaded = 0, files_rejected = 0;
  std::uint64_t rows_by_table[kTableCount] = {};  // rows inserted (concepts already present do not count)
  std::vector<Rejection> rejections;              // every rejected file, whoever rejected it
  void add(const CommitReport& other);
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void begin_file(const FileMeta& meta) = 0;
  // Applies (or buffers) one row; returns the position past its values.
  virtual const std::byte* row(TableId table, const std::byte* values) = 0;
  // Buffers one row already in the sink's wire form (batch_encoding_for this sink). A sink that
  // reads only tagged values throws SinkError.
  virtual void encoded_row(TableId table, std::span<const std::byte> row);
  // Ends the file: loaded, or rejected (by the parser, or by the sink's own checks).
  virtual void end_file(const FileEndInfo& end, const FileMeta& meta) = 0;
  // Makes every file ended since the last commit durable, each whole or not at all (a file the
  // database refuses is rejected alone), with its ingest_files row; reports what it did.
  virtual CommitReport commit() = 0;
  // True when the sink holds enough buffered work that the writer should commit at the next
  // file boundary (bounds the memory of sinks that buffer).
  virtual bool wants_commit() const { return false; }
};

std::unique_ptr<SinkAdmin> open_sink_admin(const SinkUrl& url);
std::unique_ptr<SinkWriter> open_sink_writer(const SinkUrl& url, std::int64_t run_id);

// The DDL a sink would apply, for `edgarpipe schema` and review by a DBA.
std::string schema_sql(const SinkUrl& url);

// "xxh3:0123456789abcdef": content hashes as stored in ingest_files.content_hash.
std::string format_content_hash(std::uint64_t hash);
bool parse_content_hash(std::string_view text, std::uint64_t& hash);

// Formats an error offset the one way every log line and ingest_files row uses.
std::string describe_error(std::string_view reason, std::int64_t offset);

// Current UTC time as "YYYY-MM-DD HH:MM:SS".
std::string utc_now();

}  // namespace edgarpipe
