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

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgarpipe/batch/row_batch.hpp"
#include "edgarpipe/core/tables.hpp"

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
// How parsers encode rows for this sink: PostgreSQL takes its binary COPY tuples ready-made,
// SQL Server its bind-ready cells (UTF-16 or, with a UTF-8 collation, UTF-8 text); SQLite and
// null: read tagged values.
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

// What a document is known by in ingest_files (../shared/edgar-tables.md): its dataset, the
// filer's CIK and the page (0 for a main file and for companyfacts, NNN for an overflow page).
// cik < 0: a document whose filer cannot be known, recorded under its path (cik and page NULL).
struct FileKey {
  Dataset dataset = Dataset::kUnknown;
  std::int64_t cik = -1;
  std::int32_t page = -1;
  friend bool operator==(const FileKey&, const FileKey&) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  friend auto operator<=>(const FileKey&, const FileKey&) = default;
};
struct FileKeyHash {
  std::size_t operator()(const FileKey& k) const noexcept {
    return std::hash<std::int64_t>{}(k.cik * 1000003 + k.page * 4 + static_cast<int>(k.dataset));
  }
};

// What ingest_files holds for a loaded key: its content hash, and its source stamp
// (InputFile::source_stamp; 0 where none is recorded).
struct LoadedFile {
  std::uint64_t hash = 0, stamp = 0;
};
using LoadedFiles = std::unordered_map<FileKey, LoadedFile, FileKeyHash>;

// One ingest_files row as the supervisor reads it back.
struct IngestRecord {
  FileKey key;
  std::string source_path;
  std::uint64_t content_hash = 0;  // 0: none recorded (the file could not be read)
  bool loaded = false;
  std::string error;
  std::int64_t run_id = 0;
};

// The layout of ingest_files and ingest_runs this release writes (edgarpipe_schema.version).
// 1: ingest_files keyed by (dataset, source_file), no version table. 2: keyed by
// (dataset, cik, page), with source_path. 3: with source_stamp. 4: SQL Server's text compares
// exactly, in right-sized columns (the other sinks' layout is 3's).
inline constexpr int kSchemaVersion = 4;

class SinkAdmin {
 public:
  virtual ~SinkAdmin() = default;
  // Idempotent. A database of an older layout is upgraded in place, in one transaction, with a
  // line on stderr; one of a newer layout is refused. A fresh database gets the facts storage of
  // set_storage (tables.hpp); an existing one keeps its own.
  virtual void create_schema() = 0;
  // Instead of create_schema, for a read-only admin: throws SinkError naming `sink` when it holds
  // no edgarpipe tables, an earlier layout (only a run upgrades it), or a newer one.
  void check_readable(std::string_view sink);
  void set_storage(Storage storage) { storage_ = storage; }
  // How the database holds facts, read from its catalog; nullopt while it has no facts table.
  virtual std::optional<Storage> stored_as() { return Storage::kRow; }
  virtual std::int64_t begin_run(const RunStart& run) = 0;
  virtual void finish_run(std::int64_t run_id, const RunTotals& totals) = 0;
  // Every key whose status is 'loaded', with its content hash and source stamp.
  virtual LoadedFiles loaded_files() = 0;
  // Records the stamps of loaded keys whose file was read again and found unchanged (its stamp
  // moved: a copied folder, a touched file), so that the next run skips them without reading.
  void record_source_stamps(std::vector<std::pair<FileKey, std::uint64_t>> stamps);
  // The ingest_files rows that are rejected (`run_id` unset), or those of one run.
  std::vector<IngestRecord> ingest_records(std::optional<std::int64_t> run_id);
  // After a run: drops what no longer describes a document. A key that loaded or was rejected
  // in a known dataset retires its rows of dataset 'unknown' (a file rejected before its kind was
  // known); a path whose document this run recorded retires its key-less rows of earlier runs.
  void retire_stale_records(std::int64_t run_id);
  // Drops the key-less rejects of earlier runs at these paths: inputs this run could read (a
  // folder or file that was unreadable then), whose documents it loaded or found unchanged.
  void retire_rejects_read_now(std::int64_t run_id, const std::vector<std::string>& source_paths);
  // Builds the secondary indexes (tables.hpp) not built yet, and returns each one's name and build
  // time: after the first load of a fresh database (loading into indexed tables is slower than
  // indexing once), then kept by every later run.
  // `starting(name, i, n)` is called before the i-th (0-based) of the n left to build.
  struct BuiltIndex {
    std::string name;
    double seconds;
  };
  std::vector<BuiltIndex> build_secondary_indexes(
      const std::function<void(std::string_view name, std::size_t i, std::size_t n)>& starting = {});
  // Bounds what the database may use for the index build's sorts, whatever the row count:
  // SQLite sorts in memory up to `bytes` and spills to temporary files (in SQLITE_TMPDIR, else
  // TMPDIR, else /var/tmp or /tmp), with the multi-threaded sorter; PostgreSQL sets this
  // session's maintenance_work_mem. SQL Server's memory grants are the server's.
  virtual void limit_index_memory(std::uint64_t /*bytes*/) {}
  // Cancels the statement this admin runs, from another thread (Ctrl-C during the index build):
  // it fails with an error soon after. SQLite: sqlite3_interrupt; PostgreSQL: a cancel request.
  // SQL Server: none (the statement runs to its end).
  virtual void cancel() noexcept {}
  bool build_secondary_indexes_pending();                // some are not built yet
  std::vector<SecondaryIndex> secondary_indexes_left();  // those not built yet, in build order
  virtual SqlFlavor flavor() const = 0;

  // What the supervisor and the commands ask of ingest_files and ingest_runs. The SQL is in
  // sink.cpp, once, in the subset every dialect runs unchanged.
  using TextRow = std::vector<std::optional<std::string>>;  // a row as text, nullopt for NULL
  // Every filer with a recorded file, by dataset (--prune: those no input names any more go).
  std::vector<std::pair<Dataset, std::int64_t>> recorded_filers();
  // This run's ingest_files rows by status (the summary's counts when a restart could count a
  // file twice).
  struct RunFileCounts {
    std::uint64_t loaded = 0, rejected = 0;
  };
  RunFileCounts run_file_counts(std::int64_t run_id);
  // The size in bytes of every loaded key's file (`status PATH`: a file of another size changed).
  std::map<FileKey, std::uint64_t> loaded_sizes();
  // For `status`: the latest runs, newest first (run_id, started_at, finished_at, status,
  // files_seen, files_loaded, files_skipped, files_rejected, rows_written), and the files by
  // dataset and status (dataset, status, count, sum of rows).
  std::vector<TextRow> latest_runs(std::size_t limit);
  std::vector<TextRow> file_totals();
  // For `rejects`: dataset, source_file, source_path, run_id and error of each rejected file,
  // of every run or of one.
  std::vector<TextRow> rejected_files(std::optional<std::int64_t> run_id);
  // For `asof`: replaces facts_asof (facts_asof_sql, tables.hpp) in one transaction; returns its
  // row count. `date` is a checked YYYY-MM-DD.
  std::uint64_t materialize_facts_asof(std::string_view date);
  // For `frame`: frame_sql's rows (tables.hpp).
  std::vector<TextRow> frame(const FrameQuery& query) { return execute(frame_sql(query)); }
  // For `tune` into a scratch target the operator named: empties every table of the contract and
  // the two ingest tables.
  void empty_all_tables();
  // For `tune` into PostgreSQL: drops a trial's schema and everything in it (PostgreSQL only).
  void drop_schema(std::string_view schema);

  // Liveness of runs. Every supervisor holds the sink's run lock shared while it runs. The lock
  // belongs to its connection (PostgreSQL advisory lock, SQL Server applock, both session-owned)
  // or open file (flock on the SQLite database), so a supervisor killed with kill -9 drops it.
  // Called before begin_run: if the lock can be taken exclusively, no run is alive, and every
  // run still marked 'running' died without finishing; those become 'interrupted' (while the
  // lock is exclusive, so no starting run is marked by mistake). Then the lock is held shared
  // until this admin is destroyed. Returns how many runs were marked. A server session can
  // outlive its killed client for a while (it ends its statement first): while runs are marked
  // 'running', the exclusive lock is tried again for dead_session_grace().
  std::uint64_t interrupt_dead_runs();
  // Whether no other run is alive on this sink (asked while this admin holds its run lock).
  bool alone();

  // --prune: deletes a filer's rows in the dataset's tables and the ingest_files rows of its
  // files there (replace_filer_sql), in one transaction, under the filer's exclusive lock.
  virtual void delete_filer(Dataset dataset, std::int64_t cik) = 0;

  // Why a source path cannot be recorded in ingest_files.source_path (asked of every input before
  // a run starts), or nullopt. SQL Server's column is bounded and FreeTDS would truncate a longer
  // path silently, after which a restart would no longer find the file's row.
  virtual std::optional<std::string> refuse_source_path(std::string_view) const { return std::nullopt; }

 protected:
  // The upgrade of a layout-1 ingest_files, shared by the sinks: they say how to run it.
  struct UpgradeDialect {
    std::string begin;                             // starts a transaction (empty: the caller holds one)
    std::string rename_old;                        // renames ingest_files to ingest_files_v1
    std::string loaded_at_text;                    // loaded_at as 'YYYY-MM-DD HH:MM:SS[.fff]' text
    std::string schema_ddl;                        // the contract's DDL (creates the new ingest_files)
    bool national_literals;                        // N'...' for text (SQL Server)
    SqlFlavor flavor;                              // for the views, applied after the DDL
    std::function<void(const std::string&)> exec;  // runs statements that return no rows
  };
  // Whether the database holds an ingest_files of layout 1 (no `page` column).
  virtual bool has_layout_1() = 0;
  // Upgrades layout 1 in place when has_layout_1(), then applies schema_ddl and records the
  // schema version; refuses a database of a newer version.
  void apply_schema(const UpgradeDialect& dialect);

  // Runs one statement in this sink's dialect and returns its rows as text. Only SinkAdmin's own
  // operations and the sinks themselves build SQL: callers use the typed operations above. The
  // real-server tests read tables through it (SinkAdminTestAccess, defined by a test).
  virtual std::vector<TextRow> execute(const std::string& sql) = 0;
  friend struct SinkAdminTestAccess;

  virtual bool try_lock_runs_exclusive() = 0;
  virtual std::chrono::milliseconds dead_session_grace() const { return std::chrono::seconds(5); }
  virtual void unlock_runs_exclusive() = 0;
  virtual void lock_runs_shared() = 0;  // waits while another admin holds it exclusive

  Storage storage_ = Storage::kRow;  // for a fresh database's facts (set_storage)
};

struct FileMeta {
  std::uint32_t file_index = 0;
  // Its key with FileEndInfo::dataset (known once the file ends): cik -1 for a document without.
  std::int64_t cik = -1;
  std::int32_t page = -1;
  std::string source_file;         // the key's SEC file name; the name as found for a key-less file
  std::string source_path;         // where it was read
  std::uint64_t source_stamp = 0;  // InputFile::source_stamp: 0 for none (NULL)
  std::uint64_t bytes = 0;
  std::uint64_t content_hash = 0;
  // Bit 1 << Dataset for each dataset its key was loaded in before with other content (or
  // --force): in that dataset its filer is replaced.
  std::uint8_t replaces_in = 0;
  bool replaces(Dataset d) const noexcept { return replaces_in & (1u << static_cast<unsigned>(d)); }
};

// Replacing a filer (../shared/edgar-tables.md: a newer snapshot replaces what changed). Every
// sink keeps one invariant at each commit: a filer's rows in a dataset's tables are exactly the
// rows of its files that have a 'loaded' ingest_files row. A file that replaces its filer runs
// these statements in its own transaction, before its rows: the filer's rows go, and so do the
// ingest_files rows of all its files in the dataset, so files of the filer that were skipped as
// unchanged are no longer 'loaded' and the run loads them again (Supervisor: the second pass).
std::vector<std::string> replace_filer_sql(Dataset dataset, std::int64_t cik);

// Whether a file the database refused is one that another run loaded meanwhile: two runs over
// the same files at once (overlapping cron jobs, a requeued Slurm task beside its old attempt)
// both read it as not loaded, and the second to commit meets the first's rows. Such a file is
// neither loaded nor rejected by this run (CommitReport::files_loaded_elsewhere): a reject row
// would take the place of the other run's 'loaded' row while its rows stay. The query counts
// the key's 'loaded' row with this content; it sees the other run's commit, since a unique key
// conflicts only with committed rows (or waits until they are).
std::string loaded_elsewhere_sql(std::string_view dataset, std::int64_t cik, std::int32_t page,
                                 std::uint64_t content_hash);
// The dataset a data table belongs to.
Dataset dataset_of(TableId table) noexcept;

struct Rejection {
  std::uint32_t file_index = 0;
  std::string error;  // as stored in ingest_files.error
};
// How every sink's ingest_files.error begins for a file whose rows the database itself refused
// (a constraint, a value out of range), as opposed to one the parser or the sink's own checks
// rejected. The second pass retries exactly these (they may have met a filer's old rows), and
// it knows them only by this text, which is all a later run can read back.
inline constexpr std::string_view kDatabaseRefused = "database refused";
inline bool refused_by_database(std::string_view error) noexcept { return error.starts_with(kDatabaseRefused); }

// What one commit made durable.
struct CommitReport {
  std::uint64_t files_loaded = 0, files_rejected = 0;
  std::uint64_t files_loaded_elsewhere = 0;       // refused, and loaded by another run: skipped (loaded_elsewhere_sql)
  std::uint64_t rows_by_table[kTableCount] = {};  // rows inserted (concepts already present do not count)
  std::vector<Rejection> rejections;              // every rejected file, whoever rejected it
  void add(const CommitReport& other);
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual void begin_file(const FileMeta& meta) = 0;
  // Applies (or buffers) one row of tagged values; returns the position past them. The server
  // sinks' writers take encoded rows only and throw SinkError here.
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
  // Whether a commit the writer would make because time passed may happen now (one for size,
  // wants_commit, and the last one always do): the SQL Server sink over a columnstore holds
  // its facts back until they fill a compressed row group.
  virtual bool timed_commit_ready(std::chrono::steady_clock::duration /*since_last*/) const { return true; }
};

// read_only: for commands that only read (status, rejects): nothing is created or upgraded (SQLite
// opens the file read-only; PostgreSQL's session refuses writes); call check_readable, not
// create_schema.
std::unique_ptr<SinkAdmin> open_sink_admin(const SinkUrl& url, bool read_only = false);
std::unique_ptr<SinkWriter> open_sink_writer(const SinkUrl& url, std::int64_t run_id);

// The DDL a sink would apply, views and (unless --no-indexes) secondary indexes included, for
// `edgarpipe schema` and review by a DBA.
std::string schema_sql(const SinkUrl& url, bool with_indexes = true, Storage storage = Storage::kRow);
// "row" / "analytic", and back (nullopt for anything else).
std::string_view storage_name(Storage storage) noexcept;
std::optional<Storage> parse_storage(std::string_view name) noexcept;

// "xxh3:0123456789abcdef": content hashes as stored in ingest_files.content_hash.
std::string format_content_hash(std::uint64_t hash);
bool parse_content_hash(std::string_view text, std::uint64_t& hash);

// Formats an error offset the one way every log line and ingest_files row uses.
std::string describe_error(std::string_view reason, std::int64_t offset);

// Current UTC time as "YYYY-MM-DD HH:MM:SS".
std::string utc_now();

}  // namespace edgarpipe
