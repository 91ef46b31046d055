// The SQLite sink: the embedded default. One database file; each writer process holds one
// connection. SQLite admits one writing transaction at a time, so several writers take turns
// (busy timeout) rather than load in parallel: one writer is the right setting for SQLite.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "edgarpipe/sink/sink.hpp"

namespace edgarpipe {

namespace {

std::string build_schema() {
  // period_start is NULL for instant facts; the facts key treats NULL as a value.
  return contract_ddl({[](ColumnType t, std::string_view, std::string_view) {
                         return std::string(sql_type_name(t, SqlFlavor::kSqlite));
                       },
                       "coalesce(period_start, '')", "INTEGER PRIMARY KEY", create_table_if_absent,
                       create_unique_index_if_absent});
}

// Why this process cannot write the database at `path`, or "": SQLite's own words ("attempt to
// write a readonly database", "unable to open database file") name neither the file nor the
// cause. In WAL mode SQLite creates PATH-wal and PATH-shm beside the file: the folder must be
// writable too, unless they are there already.
std::string unwritable_reason(const std::string& path) {
  if (path.empty() || path == ":memory:" || path.starts_with("file:")) return {};
  const std::size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const bool exists = ::access(path.c_str(), F_OK) == 0;
  if (exists && ::access(path.c_str(), W_OK) != 0)
    return fmt::format("the file is not writable by this user ({})", std::strerror(errno));
  if (::access(folder.c_str(), W_OK) == 0) return {};
  const std::string folder_error = std::strerror(errno);
  if (!exists) return fmt::format("cannot create it: its folder {} is not writable ({})", folder, folder_error);
  if (::access((path + "-wal").c_str(), W_OK) != 0 || ::access((path + "-shm").c_str(), W_OK) != 0)
    return fmt::format(
        "its folder {} is not writable ({}), and SQLite creates its write-ahead log ({}-wal, -shm) beside the file",
        folder, folder_error, path);
  return {};
}

class Database {
 public:
  // read_only: the file is opened as it is (never created, never switched to WAL): `status` and
  // `rejects` read a database they may not write, as the sqlite3 shell does.
  explicit Database(const std::string& path, bool read_only = false) {
    const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (!read_only)
      if (const std::string why = unwritable_reason(path); !why.empty())
        throw SinkError("cannot write SQLite database " + path + ": " + why);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      throw SinkError("cannot open SQLite database " + path + ": " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 600'000);  // other writers and the supervisor take turns
    if (read_only) {
      // A WAL database in a folder this user cannot write, with no -wal and -shm left there (no
      // writer at work: a writer creates them): SQLite cannot make its shared-memory index, so
      // read the file as it stands (immutable), which is then the whole database.
      if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK &&
          ((sqlite3_errcode(db_) & 0xff) == SQLITE_READONLY || (sqlite3_errcode(db_) & 0xff) == SQLITE_CANTOPEN) &&
          ::access((path + "-wal").c_str(), F_OK) != 0) {
        sqlite3_close_v2(db_);
        db_ = nullptr;
        std::string uri = "file:";
        for (const char c : path) {
          if (c == '%' || c == '?' || c == '#')
            uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
          else
            uri += c;
        }
        uri += "?immutable=1";
        if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr) !=
            SQLITE_OK) {
          const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
          sqlite3_close(db_);
          throw SinkError("cannot open SQLite database " + path + ": " + message);
        }
      }
      return;
    }
    try {
      // Switching a new file to WAL takes its lock without the busy handler: two runs that create
      // one database at once would see "database is locked" here. Taking turns is right.
      for (int attempt = 1;; ++attempt) {
        try {
          exec("PRAGMA journal_mode=WAL");
          break;
        } catch (const SinkError&) {
          if ((sqlite3_errcode(db_) & 0xff) != SQLITE_BUSY || attempt == 600) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
      exec("PRAGMA synchronous=NORMAL");
      exec("PRAGMA cache_size=-262144");  // 256 MiB page cache
      exec("PRAGMA temp_store=MEMORY");
    } catch (...) {  // a constructor that throws runs no destructor
      sqlite3_close_v2(db_);
      throw;
    }
  }
  ~Database() {
    if (db_) sqlite3_close_v2(db_);
  }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* get() const noexcept { return db_; }

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw SinkError("SQLite: " + message);
    }
  }

  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
      throw SinkError("SQLite: cannot prepare statement: " + std::string(sqlite3_errmsg(db_)));
    return stmt;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  Statement() = default;
  explicit Statement(sqlite3_stmt* s) : stmt(s) {}
  Statement(Statement&& o) noexcept : stmt(o.stmt) { o.stmt = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt, o.stmt);
    return *this;
  }
  ~Statement() { sqlite3_finalize(stmt); }
};

class SqliteAdmin final : public SinkAdmin {
 public:
  SqliteAdmin(const std::string& path, bool read_only) : path_(path), db_(path, read_only) {
    // The supervisor's connection reads ingest_files whole (a million rows at the real size) and
    // builds the indexes (limit_index_memory sets their memory): a small page cache, and sorts
    // that spill to disk, keep it bounded whatever the database's size. The writers keep theirs.
    db_.exec("PRAGMA cache_size=-16384");  // 16 MiB
    db_.exec("PRAGMA temp_store=FILE");
  }

  void limit_index_memory(std::uint64_t bytes) override {
    db_.exec("PRAGMA temp_store=FILE");  // a sort larger than the cache spills to disk, not to memory
    db_.exec(fmt::format("PRAGMA cache_size=-{}", std::max<std::uint64_t>(bytes / 1024, 1024)));
    db_.exec(fmt::format("PRAGMA threads={}", std::max(1u, std::thread::hardware_concurrency())));
  }
  void cancel() noexcept override { sqlite3_interrupt(db_.get()); }

  void create_schema() override {
    // One transaction, taken before anything is read: two first runs at once would otherwise
    // interleave the views' DROP and CREATE ("view ... already exists"). The other waits (busy
    // timeout), then finds everything made.
    db_.exec("BEGIN IMMEDIATE");
    try {
      apply_schema({"", "ALTER TABLE ingest_files RENAME TO ingest_files_v1", "loaded_at", build_schema(), false,
                    SqlFlavor::kSqlite, [this](const std::string& sql) { db_.exec(sql); }});
    } catch (...) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    db_.exec("COMMIT");
  }

  std::int64_t begin_run(const RunStart& run) override {
    Statement s(db_.prepare(
        "INSERT INTO ingest_runs (started_at, status, sources, sink, files_seen, files_loaded, files_skipped, "
        "files_rejected, rows_written, readers, parsers, writers) VALUES (?, 'running', ?, ?, 0, 0, 0, 0, 0, ?, ?, "
        "?)"));
    const std::string now = utc_now();
    sqlite3_bind_text(s.stmt, 1, now.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s.stmt, 2, run.sources.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s.stmt, 3, run.sink.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.stmt, 4, run.readers);
    sqlite3_bind_int64(s.stmt, 5, run.parsers);
    sqlite3_bind_int64(s.stmt, 6, run.writers);
    if (sqlite3_step(s.stmt) != SQLITE_DONE)
      throw SinkError("SQLite: cannot record the run: " + std::string(sqlite3_errmsg(db_.get())));
    return sqlite3_last_insert_rowid(db_.get());
  }

  void finish_run(std::int64_t run_id, const RunTotals& t) override {
    Statement s(db_.prepare(
        "UPDATE ingest_runs SET finished_at = ?, status = ?, files_seen = ?, files_loaded = ?, files_skipped = ?, "
        "files_rejected = ?, rows_written = ? WHERE run_id = ?"));
    const std::string now = utc_now();
    sqlite3_bind_text(s.stmt, 1, now.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s.stmt, 2, t.status.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.stmt, 3, static_cast<sqlite3_int64>(t.files_seen));
    sqlite3_bind_int64(s.stmt, 4, static_cast<sqlite3_int64>(t.files_loaded));
    sqlite3_bind_int64(s.stmt, 5, static_cast<sqlite3_int64>(t.files_skipped));
    sqlite3_bind_int64(s.stmt, 6, static_cast<sqlite3_int64>(t.files_rejected));
    sqlite3_bind_int64(s.stmt, 7, static_cast<sqlite3_int64>(t.rows_written));
    sqlite3_bind_int64(s.stmt, 8, run_id);
    if (sqlite3_step(s.stmt) != SQLITE_DONE)
      throw SinkError("SQLite: cannot finish the run: " + std::string(sqlite3_errmsg(db_.get())));
  }

  std::vector<TextRow> execute(const std::string& sql) override {
    Statement s(db_.prepare(sql));
    std::vector<TextRow> rows;
    int rc;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      TextRow row;
      for (int i = 0; i < sqlite3_column_count(s.stmt); ++i) {
        const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, i));
        row.push_back(v ? std::optional<std::string>(v) : std::nullopt);
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) throw SinkError("SQLite: " + std::string(sqlite3_errmsg(db_.get())));
    return rows;
  }

  LoadedFiles loaded_files() override {
    LoadedFiles map;
    Statement s(
        db_.prepare("SELECT dataset, cik, page, content_hash, source_stamp FROM ingest_files WHERE status = "
                    "'loaded' AND cik IS NOT NULL"));
    int rc;
    while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
      const auto* dataset = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
      const auto* hash = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 3));
      std::uint64_t h;
      if (dataset && hash && parse_content_hash(hash, h))
        map[{dataset_from_name(dataset), sqlite3_column_int64(s.stmt, 1), sqlite3_column_int(s.stmt, 2)}] = {
            h, static_cast<std::uint64_t>(sqlite3_column_int64(s.stmt, 4))};  // NULL reads 0
    }
    if (rc != SQLITE_DONE)
      throw SinkError("SQLite: cannot read ingest_files: " + std::string(sqlite3_errmsg(db_.get())));
    return map;
  }

  void delete_filer(Dataset dataset, std::int64_t cik) override {
    db_.exec("BEGIN IMMEDIATE");
    try {
      for (const std::string& sql : replace_filer_sql(dataset, cik)) db_.exec(sql);
      db_.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 protected:
  // flock() on the database file: SQLite's own locks are fcntl() byte ranges, which do not
  // interact with flock() on Linux, and the lock goes with the supervisor's open file.
  SqlFlavor flavor() const override { return SqlFlavor::kSqlite; }
  bool has_layout_1() override {
    const auto rows = execute(
        "SELECT (SELECT count(*) FROM pragma_table_info('ingest_files')), "
        "(SELECT count(*) FROM pragma_table_info('ingest_files') WHERE name = 'page')");
    return rows[0][0] != "0" && rows[0][1] == "0";
  }
  bool try_lock_runs_exclusive() override { return ::flock(lock_fd(), LOCK_EX | LOCK_NB) == 0; }
  // The kernel drops a dead process's flock at once: a held lock is a live run.
  std::chrono::milliseconds dead_session_grace() const override { return {}; }
  void unlock_runs_exclusive() override { ::flock(lock_fd(), LOCK_UN); }
  void lock_runs_shared() override {
    while (::flock(lock_fd(), LOCK_SH) != 0)
      if (errno != EINTR) throw SinkError(fmt::format("SQLite: cannot lock {}: {}", path_, std::strerror(errno)));
  }

 private:
  int lock_fd() {
    if (lock_fd_.fd < 0) lock_fd_.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (lock_fd_.fd < 0) throw SinkError(fmt::format("SQLite: cannot open {}: {}", path_, std::strerror(errno)));
    return lock_fd_.fd;
  }
  // Closing any descriptor of a file drops every POSIX (fcntl) lock this process holds on it,
  // SQLite's included: the flock descriptor is declared before the database so that it is
  // closed after it.
  struct LockFd {
    int fd = -1;
    ~LockFd() {
      if (fd >= 0) ::close(fd);
    }
  };
  std::string path_;
  LockFd lock_fd_;
  Database db_;
};

// Errors that concern one file's rows (the file is rejected, the run goes on). Everything else
// (disk full, I/O error, corruption, lock timeout) is fatal for the writer.
bool is_per_file_error(int rc) noexcept {
  const int primary = rc & 0xFF;
  return primary == SQLITE_CONSTRAINT || primary == SQLITE_TOOBIG || primary == SQLITE_MISMATCH ||
         primary == SQLITE_RANGE;
}

class SqliteWriter final : public SinkWriter {
 public:
  SqliteWriter(const std::string& path, std::int64_t run_id) : db_(path), run_id_(run_id) {
    for (const TableDef& t : all_tables()) {
      std::string cols, marks;
      for (const Column& c : t.columns) {
        cols += (cols.empty() ? "" : ", ") + std::string(c.name);
        marks += marks.empty() ? "?" : ", ?";
      }
      insert_[static_cast<std::size_t>(t.id)] = Statement(db_.prepare(fmt::format(
          "INSERT {}INTO {} ({}) VALUES ({})", t.ignore_duplicates ? "OR IGNORE " : "", t.name, cols, marks)));
    }
    begin_ = Statement(db_.prepare("BEGIN IMMEDIATE"));
    commit_ = Statement(db_.prepare("COMMIT"));
    savepoint_ = Statement(db_.prepare("SAVEPOINT file"));
    release_ = Statement(db_.prepare("RELEASE file"));
    rollback_ = Statement(db_.prepare("ROLLBACK TO file"));
    // REPLACE takes the key's earlier row (the unique index on dataset, cik, page); a key-less row
    // replaces the one of the same path by hand.
    ingest_ = Statement(db_.prepare(
        "INSERT OR REPLACE INTO ingest_files (dataset, cik, page, source_file, source_path, bytes, content_hash, "
        "status, rows, error, run_id, loaded_at, source_stamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    drop_keyless_ = Statement(db_.prepare("DELETE FROM ingest_files WHERE cik IS NULL AND source_path = ?"));
  }

  void begin_file(const FileMeta& meta) override {
    if (!in_transaction_) {
      step_control(begin_.stmt, "BEGIN");
      in_transaction_ = true;
    }
    step_control(savepoint_.stmt, "SAVEPOINT");
    file_rows_ = {};
    file_error_.clear();
    replaces_in_ = meta.replaces_in;
    filer_replaced_ = false;
  }

  const std::byte* row(TableId table, const std::byte* values) override {
    if (!file_error_.empty()) return skip_row_values(table, values);  // the file is already lost
    if (replaces_in_ && !filer_replaced_ && table != TableId::kConcepts &&
        (replaces_in_ & (1u << static_cast<unsigned>(dataset_of(table))))) {
      // The first row that names the filer (cik is every such table's first column): its old
      // rows go before the new ones arrive, in the file's savepoint.
      replace_filer(dataset_of(table), ValueCursor(values).next().integer);
    }
    sqlite3_stmt* stmt = insert_[static_cast<std::size_t>(table)].stmt;
    ValueCursor cursor(values);
    const int columns = static_cast<int>(table_def(table).columns.size());
    for (int i = 1; i <= columns; ++i) {
      const ValueView v = cursor.next();
      switch (v.tag) {
        case ValueTag::kNull:
          sqlite3_bind_null(stmt, i);
          break;
        case ValueTag::kInt:
          sqlite3_bind_int64(stmt, i, v.integer);
          break;
        // The text stays in the shared-memory chunk until the row is stepped: no copy.
        case ValueTag::kText:
          sqlite3_bind_text(stmt, i, v.text.data(), static_cast<int>(v.text.size()), SQLITE_STATIC);
          break;
        case ValueTag::kDecimal:
          sqlite3_bind_double(stmt, i, v.nearest);
          break;
      }
    }
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
      file_rows_[static_cast<std::size_t>(table)] += static_cast<std::uint64_t>(sqlite3_changes(db_.get()));
    } else if (is_per_file_error(sqlite3_extended_errcode(db_.get()))) {
      file_error_ = fmt::format("{} a {} row: {}", kDatabaseRefused, table_def(table).name, sqlite3_errmsg(db_.get()));
    } else {
      const std::string message = sqlite3_errmsg(db_.get());
      sqlite3_reset(stmt);
      throw SinkError("SQLite: " + message);
    }
    sqlite3_reset(stmt);
    return cursor.position();
  }

  void end_file(const FileEndInfo& end, const FileMeta& meta) override {
    const bool loaded = end.status == FileStatus::kLoaded && file_error_.empty();
    std::string error;
    if (loaded) {
      step_control(release_.stmt, "RELEASE");
      ++pending_.files_loaded;
      for (std::size_t t = 0; t < kTableCount; ++t) pending_.rows_by_table[t] += file_rows_[t];
    } else {
      step_control(rollback_.stmt, "ROLLBACK TO");
      step_control(release_.stmt, "RELEASE");
      filer_replaced_ = false;  // rolled back with the file: a clean load would not hold the old rows either
      error = end.status == FileStatus::kRejected ? describe_error(end.error, end.error_offset) : file_error_;
      if (end.status == FileStatus::kLoaded && loaded_elsewhere(end.dataset, meta)) {
        // No row of ours and no replacement: the other run replaced the filer and loaded this
        // very document; its 'loaded' row and its rows stay.
        ++pending_.files_loaded_elsewhere;
        return;
      }
      ++pending_.files_rejected;
      pending_.rejections.push_back({meta.file_index, error});
    }
    if (meta.replaces(end.dataset) && !filer_replaced_) replace_filer(end.dataset, meta.cik);
    // The file's own rows (every concept it describes counts, even one another file inserted
    // first), so the figure does not depend on load order.
    const std::uint64_t rows = loaded ? end.rows : 0;
    if (meta.cik < 0) {
      sqlite3_bind_text(drop_keyless_.stmt, 1, meta.source_path.data(), static_cast<int>(meta.source_path.size()),
                        SQLITE_TRANSIENT);
      step_control(drop_keyless_.stmt, "ingest_files");
    }
    // The file's bookkeeping row commits in the same transaction as its rows.
    sqlite3_stmt* s = ingest_.stmt;
    const std::string dataset(dataset_name(end.dataset));
    const std::string hash = format_content_hash(meta.content_hash);
    const std::string now = utc_now();
    sqlite3_bind_text(s, 1, dataset.c_str(), -1, SQLITE_TRANSIENT);
    if (meta.cik >= 0) {
      sqlite3_bind_int64(s, 2, meta.cik);
      sqlite3_bind_int(s, 3, meta.page);
    } else {
      sqlite3_bind_null(s, 2);
      sqlite3_bind_null(s, 3);
    }
    sqlite3_bind_text(s, 4, meta.source_file.data(), static_cast<int>(meta.source_file.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, meta.source_path.data(), static_cast<int>(meta.source_path.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, static_cast<sqlite3_int64>(meta.bytes));
    if (meta.content_hash != 0)
      sqlite3_bind_text(s, 7, hash.c_str(), -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(s, 7);
    sqlite3_bind_text(s, 8, loaded ? "loaded" : "rejected", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 9, static_cast<sqlite3_int64>(rows));
    if (loaded)
      sqlite3_bind_null(s, 10);
    else
      sqlite3_bind_text(s, 10, error.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 11, run_id_);
    sqlite3_bind_text(s, 12, now.c_str(), -1, SQLITE_TRANSIENT);
    if (meta.source_stamp != 0)
      sqlite3_bind_int64(s, 13, static_cast<sqlite3_int64>(meta.source_stamp));
    else
      sqlite3_bind_null(s, 13);
    step_control(s, "ingest_files");
  }

  CommitReport commit() override {
    if (in_transaction_) {
      step_control(commit_.stmt, "COMMIT");
      in_transaction_ = false;
    }
    return std::exchange(pending_, CommitReport{});
  }

 private:
  // A refused file that another run loaded meanwhile (loaded_elsewhere_sql); rare, so not prepared.
  bool loaded_elsewhere(Dataset dataset, const FileMeta& meta) {
    if (meta.cik < 0 || meta.content_hash == 0) return false;
    Statement q(db_.prepare(loaded_elsewhere_sql(dataset_name(dataset), meta.cik, meta.page, meta.content_hash)));
    return sqlite3_step(q.stmt) == SQLITE_ROW && sqlite3_column_int64(q.stmt, 0) > 0;
  }

  void replace_filer(Dataset dataset, std::int64_t cik) {
    for (const std::string& sql : replace_filer_sql(dataset, cik)) db_.exec(sql);
    filer_replaced_ = true;
  }

  void step_control(sqlite3_stmt* stmt, const char* what) {
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      const std::string message = sqlite3_errmsg(db_.get());
      sqlite3_reset(stmt);
      throw SinkError(fmt::format("SQLite {} failed: {}", what, message));
    }
    sqlite3_reset(stmt);
  }

  Database db_;
  std::int64_t run_id_;
  std::array<Statement, kTableCount> insert_;
  Statement begin_, commit_, savepoint_, release_, rollback_, ingest_, drop_keyless_;
  bool in_transaction_ = false;
  std::array<std::uint64_t, kTableCount> file_rows_{};
  std::string file_error_;
  std::uint8_t replaces_in_ = 0;  // FileMeta::replaces_in of the open file
  bool filer_replaced_ = false;   // done so
  CommitReport pending_;          // what the open transaction holds
};

}  // namespace

std::unique_ptr<SinkAdmin> open_sqlite_admin(const std::string& path, bool read_only) {
  return std::make_unique<SqliteAdmin>(path, read_only);
}
std::unique_ptr<SinkWriter> open_sqlite_writer(const std::string& path, std::int64_t run_id) {
  return std::make_unique<SqliteWriter>(path, run_id);
}
std::string sqlite_schema_sql() { return build_schema(); }

}  // namespace edgarpipe
