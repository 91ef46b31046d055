#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/core/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/core/file_names.hpp"

namespace edgarpipe {

std::unique_ptr<SinkAdmin> open_sqlite_admin(const std::string& path, bool read_only);
std::unique_ptr<SinkAdmin> open_postgres_admin(const std::string& conninfo, const std::string& schema, bool read_only);
std::unique_ptr<SinkWriter> open_postgres_writer(const std::string& conninfo, std::int64_t run_id);
std::string postgres_schema_sql(const std::string& schema, Storage storage);
std::unique_ptr<SinkWriter> open_sqlite_writer(const std::string& path, std::int64_t run_id);
std::string sqlite_schema_sql();
std::unique_ptr<SinkAdmin> open_mssql_admin(const std::string& url);
std::unique_ptr<SinkWriter> open_mssql_writer(const std::string& url, std::int64_t run_id);
std::string mssql_schema_sql(const std::string& url, Storage storage);
std::string mssql_url_schema(const std::string& url);  // checks the URL; its schema=, if any
bool mssql_url_utf8_text(const std::string& url);      // text=utf8

// A build without a client library refuses its URLs when they are parsed (parse_sink_url calls
// mssql_url_schema, and checks kWithPostgres), so these are reached only through that error.
#if !defined(EDGARPIPE_WITH_POSTGRES) || !defined(EDGARPIPE_WITH_MSSQL)
[[noreturn]] void without(const char* name, const char* option) {
  throw UsageError(fmt::format("this edgarpipe was built without the {} sink ({}=OFF)", name, option));
}
#endif
#ifdef EDGARPIPE_WITH_POSTGRES
constexpr bool kWithPostgres = true;
#else
constexpr bool kWithPostgres = false;
std::unique_ptr<SinkAdmin> open_postgres_admin(const std::string&, const std::string&, bool) {
  without("PostgreSQL", "EDGARPIPE_WITH_POSTGRES");
}
std::unique_ptr<SinkWriter> open_postgres_writer(const std::string&, std::int64_t) {
  without("PostgreSQL", "EDGARPIPE_WITH_POSTGRES");
}
std::string postgres_schema_sql(const std::string&, Storage) { without("PostgreSQL", "EDGARPIPE_WITH_POSTGRES"); }
#endif
#ifndef EDGARPIPE_WITH_MSSQL
std::unique_ptr<SinkAdmin> open_mssql_admin(const std::string&) { without("SQL Server", "EDGARPIPE_WITH_MSSQL"); }
std::unique_ptr<SinkWriter> open_mssql_writer(const std::string&, std::int64_t) {
  without("SQL Server", "EDGARPIPE_WITH_MSSQL");
}
std::string mssql_schema_sql(const std::string&, Storage) { without("SQL Server", "EDGARPIPE_WITH_MSSQL"); }
std::string mssql_url_schema(const std::string&) { without("SQL Server", "EDGARPIPE_WITH_MSSQL"); }
bool mssql_url_utf8_text(const std::string&) { without("SQL Server", "EDGARPIPE_WITH_MSSQL"); }
#endif

namespace {

// A password in a URI (user:secret@host) or a key=value conninfo (password=...).
bool has_password(std::string_view url) {
  if (url.find("password=") != std::string_view::npos) return true;
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  const auto at = url.find('@', scheme + 3);
  if (at == std::string_view::npos) return false;
  return url.substr(scheme + 3, at - scheme - 3).find(':') != std::string_view::npos;
}

std::string checked_schema(std::string_view name);  // below, with the URL parsing

// The number a `SELECT count(*)` returned.
std::uint64_t count_of(const std::vector<SinkAdmin::TextRow>& rows) {
  return rows.empty() || rows[0].empty() || !rows[0][0] ? 0 : std::stoull(*rows[0][0]);
}

class NullAdmin final : public SinkAdmin {
 public:
  void create_schema() override {}
  std::int64_t begin_run(const RunStart&) override { return static_cast<std::int64_t>(std::time(nullptr)); }
  void finish_run(std::int64_t, const RunTotals&) override {}
  LoadedFiles loaded_files() override { return {}; }
  void delete_filer(Dataset, std::int64_t) override {}

 protected:
  bool has_layout_1() override { return false; }
  std::vector<TextRow> execute(const std::string&) override { return {}; }

 public:
  SqlFlavor flavor() const override { return SqlFlavor::kSqlite; }  // never asked: no SQL

 protected:
  bool try_lock_runs_exclusive() override { return false; }
  void unlock_runs_exclusive() override {}
  void lock_runs_shared() override {}
};

}  // namespace

std::uint64_t SinkAdmin::interrupt_dead_runs() {
  std::uint64_t marked = 0;
  // A run marked 'running' whose lock is still held may be a dead one whose database session
  // has not ended yet: give it dead_session_grace() before taking it for a live one.
  bool exclusive = try_lock_runs_exclusive();
  const auto step = std::chrono::milliseconds(100);
  for (auto waited = step; !exclusive && waited <= dead_session_grace(); waited += step) {
    const auto rows = execute("SELECT count(*) FROM ingest_runs WHERE status = 'running'");
    if (rows.empty() || !rows[0][0] || *rows[0][0] == "0") break;
    std::this_thread::sleep_for(step);
    exclusive = try_lock_runs_exclusive();
  }
  if (exclusive) {
    try {
      marked = count_of(execute("SELECT count(*) FROM ingest_runs WHERE status = 'running'"));
      if (marked) execute("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'");
    } catch (...) {
      unlock_runs_exclusive();
      throw;
    }
    unlock_runs_exclusive();
  }
  lock_runs_shared();
  return marked;
}

namespace {

std::string sql_literal(const std::optional<std::string>& text, bool national) {
  if (!text) return "NULL";
  std::string out = national ? "N'" : "'";
  for (char c : *text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<std::pair<Dataset, std::int64_t>> SinkAdmin::recorded_filers() {
  std::vector<std::pair<Dataset, std::int64_t>> filers;
  for (const auto& row : execute("SELECT DISTINCT dataset, cik FROM ingest_files WHERE cik IS NOT NULL"))
    filers.emplace_back(dataset_from_name(row[0].value_or("")), std::stoll(row[1].value_or("-1")));
  return filers;
}

SinkAdmin::RunFileCounts SinkAdmin::run_file_counts(std::int64_t run_id) {
  const auto count = [&](const char* status) {
    return count_of(
        execute(fmt::format("SELECT count(*) FROM ingest_files WHERE status = '{}' AND run_id = {}", status, run_id)));
  };
  return {count("loaded"), count("rejected")};
}

std::map<FileKey, std::uint64_t> SinkAdmin::loaded_sizes() {
  std::map<FileKey, std::uint64_t> sizes;
  for (const auto& row :
       execute("SELECT dataset, cik, page, bytes FROM ingest_files WHERE status = 'loaded' AND cik IS NOT NULL"))
    if (row[1] && row[2] && row[3])
      sizes[{dataset_from_name(row[0].value_or("")), std::stoll(*row[1]), std::stoi(*row[2])}] = std::stoull(*row[3]);
  return sizes;
}

std::vector<SinkAdmin::TextRow> SinkAdmin::latest_runs(std::size_t limit) {
  // No LIMIT: it is not T-SQL, and this SQL runs unchanged on every sink.
  auto runs = execute(
      "SELECT run_id, started_at, finished_at, status, files_seen, files_loaded, files_skipped, files_rejected, "
      "rows_written FROM ingest_runs ORDER BY run_id DESC");
  if (runs.size() > limit) runs.resize(limit);
  return runs;
}

std::vector<SinkAdmin::TextRow> SinkAdmin::file_totals() {
  return execute(
      "SELECT dataset, status, count(*), sum(rows) FROM ingest_files GROUP BY dataset, status ORDER BY dataset, "
      "status");
}

std::vector<SinkAdmin::TextRow> SinkAdmin::rejected_files(std::optional<std::int64_t> run_id) {
  return execute(fmt::format(
      "SELECT dataset, source_file, source_path, run_id, error FROM ingest_files WHERE status = 'rejected'{} ORDER BY "
      "dataset, cik, page, source_path",
      run_id ? fmt::format(" AND run_id = {}", *run_id) : std::string()));
}

void SinkAdmin::drop_schema(std::string_view schema) {
  if (flavor() != SqlFlavor::kPostgres) throw std::logic_error("drop_schema: a PostgreSQL sink's operation");
  execute(fmt::format("DROP SCHEMA IF EXISTS \"{}\" CASCADE", checked_schema(schema)));
}

std::uint64_t SinkAdmin::materialize_facts_asof(std::string_view date) {
  const SqlFlavor f = flavor();
  execute(f == SqlFlavor::kSqlite ? "BEGIN IMMEDIATE" : f == SqlFlavor::kMssql ? "BEGIN TRANSACTION" : "BEGIN");
  try {
    for (const std::string& sql : facts_asof_sql(f, date)) execute(sql);
    const std::uint64_t rows = count_of(execute("SELECT count(*) FROM facts_asof"));
    execute(f == SqlFlavor::kMssql ? "COMMIT TRANSACTION" : "COMMIT");
    return rows;
  } catch (...) {
    try {
      execute(f == SqlFlavor::kMssql ? "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION" : "ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

void SinkAdmin::empty_all_tables() {
  for (const TableDef& t : all_tables()) execute(fmt::format("DELETE FROM {}", t.name));
  execute("DELETE FROM ingest_files");
  execute("DELETE FROM ingest_runs");
}

void SinkAdmin::record_source_stamps(std::vector<std::pair<FileKey, std::uint64_t>> stamps) {
  // One statement per 200 keys of one dataset, in the SQL all three dialects run: a CASE over the
  // keys of a few filers (numbers only: nothing to quote). `dataset = ... AND cik IN (...)` seeks
  // the key index (dataset, cik, page); `cik IN` alone would scan the table once per statement.
  std::sort(stamps.begin(), stamps.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.dataset, a.first.cik, a.first.page) < std::tie(b.first.dataset, b.first.cik, b.first.page);
  });
  constexpr std::size_t kKeysPerStatement = 200;
  for (std::size_t i = 0; i < stamps.size();) {
    const Dataset dataset = stamps[i].first.dataset;
    std::string cases, ciks;
    std::size_t j = i;
    for (; j < stamps.size() && j < i + kKeysPerStatement && stamps[j].first.dataset == dataset; ++j) {
      const auto& [key, stamp] = stamps[j];
      cases += fmt::format(" WHEN cik = {} AND page = {} THEN {}", key.cik, key.page, static_cast<std::int64_t>(stamp));
      ciks += fmt::format("{}{}", ciks.empty() ? "" : ", ", key.cik);
    }
    execute(
        fmt::format("UPDATE ingest_files SET source_stamp = CASE{} ELSE source_stamp END "
                    "WHERE dataset = '{}' AND cik IN ({}) AND status = 'loaded'",
                    cases, dataset_name(dataset), ciks));
    i = j;
  }
}

std::vector<IngestRecord> SinkAdmin::ingest_records(std::optional<std::int64_t> run_id) {
  std::vector<IngestRecord> records;
  for (const auto& row : execute(fmt::format(
           "SELECT dataset, cik, page, source_path, content_hash, status, error, run_id FROM ingest_files WHERE {}",
           run_id ? fmt::format("run_id = {}", *run_id) : std::string("status = 'rejected'")))) {
    IngestRecord r;
    r.key.dataset = dataset_from_name(row[0].value_or(""));
    r.key.cik = row[1] ? std::stoll(*row[1]) : -1;
    r.key.page = row[2] ? std::stoi(*row[2]) : -1;
    r.source_path = row[3].value_or("");
    if (!row[4] || !parse_content_hash(*row[4], r.content_hash)) r.content_hash = 0;
    r.loaded = row[5].value_or("") == "loaded";
    r.error = row[6].value_or("");
    r.run_id = row[7] ? std::stoll(*row[7]) : 0;
    records.push_back(std::move(r));
  }
  return records;
}

void SinkAdmin::retire_stale_records(std::int64_t run_id) {
  execute(fmt::format(
      "DELETE FROM ingest_files WHERE dataset = 'unknown' AND EXISTS (SELECT 1 FROM ingest_files k WHERE "
      "k.run_id = {} AND k.dataset <> 'unknown' AND k.cik = ingest_files.cik AND k.page = ingest_files.page)",
      run_id));
  execute(fmt::format(
      "DELETE FROM ingest_files WHERE cik IS NULL AND run_id <> {} AND source_path IN (SELECT k.source_path FROM "
      "ingest_files k WHERE k.run_id = {})",
      run_id, run_id));
}

void SinkAdmin::retire_rejects_read_now(std::int64_t run_id, const std::vector<std::string>& source_paths) {
  for (const std::string& path : source_paths)
    execute(fmt::format("DELETE FROM ingest_files WHERE cik IS NULL AND run_id <> {} AND source_path = {}", run_id,
                        sql_literal(path, flavor() == SqlFlavor::kMssql)));
}

std::vector<SecondaryIndex> SinkAdmin::secondary_indexes_left() {
  std::set<std::string> built;
  for (const auto& row : execute("SELECT name FROM edgarpipe_indexes"))
    if (row[0]) built.insert(*row[0]);
  std::vector<SecondaryIndex> left = secondary_indexes(flavor());
  std::erase_if(left, [&](const SecondaryIndex& index) { return built.count(std::string(index.name)) > 0; });
  return left;
}

bool SinkAdmin::build_secondary_indexes_pending() { return !secondary_indexes_left().empty(); }

std::vector<SinkAdmin::BuiltIndex> SinkAdmin::build_secondary_indexes(
    const std::function<void(std::string_view, std::size_t, std::size_t)>& starting) {
  const std::vector<SecondaryIndex> left = secondary_indexes_left();
  std::vector<BuiltIndex> made;
  for (std::size_t i = 0; i < left.size(); ++i) {
    const SecondaryIndex& index = left[i];
    if (starting) starting(index.name, i, left.size());
    const auto started = std::chrono::steady_clock::now();
    execute(create_secondary_index_sql(index, flavor()));
    execute(
        fmt::format("INSERT INTO edgarpipe_indexes (name) SELECT '{0}' WHERE NOT EXISTS (SELECT 1 FROM "
                    "edgarpipe_indexes WHERE name = '{0}')",
                    index.name));
    made.push_back(
        {std::string(index.name), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()});
  }
  // SQLite's planner takes a skip-scan (filings_date's question from filings_form_date) only with
  // statistics: sampled, 1,000 rows per index, in milliseconds (a full ANALYZE reads every row).
  if (!made.empty() && flavor() == SqlFlavor::kSqlite) {
    execute("PRAGMA analysis_limit = 1000");
    execute("ANALYZE");
  }
  return made;
}

void SinkAdmin::apply_schema(const UpgradeDialect& d) {
  const auto views = [&] {
    for (const std::string& sql : view_sql(d.flavor)) d.exec(sql);
    // statement_lines is seeded when empty: the user's edits stay, a table emptied is seeded again.
    const auto empty = [&] {
      const auto rows = execute("SELECT count(*) FROM statement_lines");
      return rows.empty() || !rows[0][0] || *rows[0][0] == "0";
    };
    if (!empty()) return;
    try {
      d.exec(statement_lines_seed_sql());
    } catch (const std::exception&) {
      if (empty()) throw;  // else a run beside this one seeded it first
    }
  };
  if (!has_layout_1()) {
    d.exec(d.schema_ddl);
    views();
    const auto rows = execute("SELECT max(version) FROM edgarpipe_schema");
    const int version = rows.empty() || !rows[0][0] ? 0 : std::stoi(*rows[0][0]);
    if (version > kSchemaVersion)
      throw SinkError(fmt::format(
          "the database holds edgarpipe's schema version {}, newer than this release's {}: use a newer edgarpipe",
          version, kSchemaVersion));
    if (version == 2) {  // 3 adds ingest_files.source_stamp; a run that starts beside this one may add it first
      try {
        d.exec(fmt::format("ALTER TABLE ingest_files ADD {}source_stamp {}",
                           d.flavor == SqlFlavor::kMssql ? "" : "COLUMN ",
                           sql_type_name(ColumnType::kBigInt, d.flavor)));
        log::info(
            "upgraded ingest_files to schema version {}: a source_stamp column (reruns skip unchanged inputs "
            "without reading them)",
            kSchemaVersion);
      } catch (const std::exception&) {
        execute("SELECT source_stamp FROM ingest_files WHERE 1 = 0");  // throws unless the other run added it
      }
    }
    if (version < kSchemaVersion)
      execute(fmt::format("INSERT INTO edgarpipe_schema (version) VALUES ({})", kSchemaVersion));
    return;
  }
  // Layout 1 knew a file by the name it was found under: the same document under two names (a
  // folder, then its parent) could hold two rows. Each key keeps one, a loaded one first, then the
  // latest; the old name becomes source_path.
  const auto old = execute(fmt::format(
      "SELECT dataset, source_file, cik, bytes, content_hash, status, rows, error, run_id, {} FROM ingest_files",
      d.loaded_at_text));
  struct Kept {
    const SinkAdmin::TextRow* row;
    std::int64_t cik;
    std::int32_t page;
  };
  std::map<std::tuple<std::string, std::int64_t, std::int32_t>, Kept> keyed;
  std::vector<Kept> keyless;
  const auto rank = [](const TextRow& r) {
    return std::pair<bool, std::int64_t>(r[5].value_or("") == "loaded", r[8] ? std::stoll(*r[8]) : 0);
  };
  for (const auto& row : old) {
    const FileNameInfo name = parse_file_name(row[1].value_or(""));
    const std::int64_t cik = name.cik >= 0 ? name.cik : row[2] ? std::stoll(*row[2]) : -1;
    const Kept kept{&row, cik, name.page >= 0 ? name.page : 0};
    if (cik < 0) {
      keyless.push_back(kept);
      continue;
    }
    auto [it, inserted] = keyed.try_emplace({row[0].value_or("unknown"), cik, kept.page}, kept);
    if (!inserted && rank(row) > rank(*it->second.row)) it->second = kept;
  }
  std::vector<std::string> values;
  const auto add = [&](const Kept& k) {
    const TextRow& r = *k.row;
    const auto number = [](const std::optional<std::string>& v) { return v ? *v : std::string("NULL"); };
    std::string source_file = r[1].value_or("");
    if (k.cik >= 0)
      source_file = sec_file_name(k.cik, k.page);
    else if (const auto slash = source_file.find_last_of('/'); slash != std::string::npos)
      source_file.erase(0, slash + 1);
    values.push_back(fmt::format("({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                                 sql_literal(r[0], d.national_literals), k.cik >= 0 ? std::to_string(k.cik) : "NULL",
                                 k.cik >= 0 ? std::to_string(k.page) : "NULL",
                                 sql_literal(source_file, d.national_literals), sql_literal(r[1], d.national_literals),
                                 number(r[3]), sql_literal(r[4], false), sql_literal(r[5], false), number(r[6]),
                                 sql_literal(r[7], d.national_literals), number(r[8]), sql_literal(r[9], false)));
  };
  for (const auto& [key, kept] : keyed) add(kept);
  for (const auto& kept : keyless) add(kept);

  if (!d.begin.empty()) d.exec(d.begin);
  try {
    d.exec(d.rename_old);
    d.exec(d.schema_ddl);
    constexpr std::size_t kRowsPerInsert = 500;  // SQL Server takes at most 1000 rows per VALUES
    for (std::size_t i = 0; i < values.size(); i += kRowsPerInsert) {
      std::string sql =
          "INSERT INTO ingest_files (dataset, cik, page, source_file, source_path, bytes, content_hash, status, rows, "
          "error, run_id, loaded_at) VALUES ";
      for (std::size_t j = i; j < std::min(values.size(), i + kRowsPerInsert); ++j)
        sql += (j > i ? ", " : "") + values[j];
      d.exec(sql);
    }
    d.exec("DROP TABLE ingest_files_v1");
    views();
    d.exec("DELETE FROM edgarpipe_schema");
    d.exec(fmt::format("INSERT INTO edgarpipe_schema (version) VALUES ({})", kSchemaVersion));
    if (!d.begin.empty()) d.exec("COMMIT");
  } catch (...) {
    try {
      if (!d.begin.empty()) d.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
  log::info(
      "upgraded ingest_files to schema version {} (files known by dataset, CIK and page): {} rows "
      "became {} ({} merged: the same document under two names)",
      kSchemaVersion, old.size(), values.size(), old.size() - values.size());
}

bool SinkAdmin::alone() {
  if (!try_lock_runs_exclusive()) return false;
  unlock_runs_exclusive();
  lock_runs_shared();
  return true;
}

namespace {

// Counts and discards: measures the pipeline without a database.
class NullWriter final : public SinkWriter {
 public:
  void begin_file(const FileMeta&) override { file_rows_ = {}; }
  const std::byte* row(TableId table, const std::byte* values) override {
    ++file_rows_[static_cast<std::size_t>(table)];
    return skip_row_values(table, values);
  }
  void end_file(const FileEndInfo& end, const FileMeta& meta) override {
    if (end.status == FileStatus::kLoaded) {
      ++pending_.files_loaded;
      for (std::size_t t = 0; t < kTableCount; ++t) pending_.rows_by_table[t] += file_rows_[t];
    } else {
      ++pending_.files_rejected;
      pending_.rejections.push_back({meta.file_index, describe_error(end.error, end.error_offset)});
    }
  }
  CommitReport commit() override { return std::exchange(pending_, CommitReport{}); }

 private:
  std::array<std::uint64_t, kTableCount> file_rows_{};
  CommitReport pending_;
};

}  // namespace

namespace {

// schema=NAME: letters, digits and _ only, so no quoting trick can get through, and lowercase so
// PostgreSQL's folding of unquoted names never makes "Edgar" and edgar two schemas.
std::string checked_schema(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 63 && !(name[0] >= '0' && name[0] <= '9') &&
                  std::all_of(name.begin(), name.end(),
                              [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }) &&
                  name.rfind("pg_", 0) != 0;
  if (!ok)
    throw UsageError(fmt::format(
        "--sink schema={}: a schema name is 1 to 63 lowercase letters, digits or _, not starting with a digit "
        "or pg_",
        name));
  return std::string(name);
}

// Takes `schema=NAME` out of a libpq URI (a query parameter) or key=value conninfo (a keyword):
// libpq itself would refuse the unknown keyword.
std::string take_schema(std::string& conninfo) {
  const bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
  const std::string key = "schema=";
  std::size_t at = std::string::npos;
  for (std::size_t p = conninfo.find(key); p != std::string::npos; p = conninfo.find(key, p + 1))
    if (p > 0 && (uri ? (conninfo[p - 1] == '?' || conninfo[p - 1] == '&') : conninfo[p - 1] == ' ')) {
      at = p;
      break;
    }
  if (at == std::string::npos && !uri && conninfo.rfind(key, 0) == 0) at = 0;
  if (at == std::string::npos) return "";
  std::size_t end = conninfo.find(uri ? '&' : ' ', at);
  if (end == std::string::npos) end = conninfo.size();
  const std::string name = conninfo.substr(at + key.size(), end - at - key.size());
  // Remove the parameter and one separator next to it.
  if (end < conninfo.size())
    conninfo.erase(at, end - at + 1);
  else
    conninfo.erase(at > 0 ? at - 1 : 0, conninfo.size());
  return checked_schema(name);
}

}  // namespace

std::string with_schema(std::string_view postgres_sink, std::string_view schema) {
  std::string text(postgres_sink);
  take_schema(text);
  if (text.find("://") == std::string::npos) return text + " schema=" + checked_schema(schema);
  return text + (text.find('?') == std::string::npos ? "?" : "&") + "schema=" + checked_schema(schema);
}

BatchEncoding batch_encoding_for(const SinkUrl& url) {
  switch (url.kind) {
    case SinkUrl::Kind::kPostgres:
      return BatchEncoding::kPgCopy;
    case SinkUrl::Kind::kMssql:
      return mssql_url_utf8_text(url.target) ? BatchEncoding::kTdsCellsUtf8 : BatchEncoding::kTdsCells;
    default:
      return BatchEncoding::kValues;
  }
}

void SinkWriter::encoded_row(TableId table, std::span<const std::byte>) {
  throw SinkError(
      fmt::format("this sink reads tagged values, not encoded rows (a {} row came)", table_def(table).name));
}

SinkUrl parse_sink_url(std::string_view url) {
  SinkUrl s;
  s.text = std::string(url);
  if (url.rfind("sqlite:", 0) == 0) {
    s.kind = SinkUrl::Kind::kSqlite;
    s.target = std::string(url.substr(7));
    if (s.target.rfind("//", 0) == 0) s.target.erase(0, 2);  // accept sqlite://PATH too
    if (s.target.empty()) throw UsageError("--sink sqlite:PATH needs a database path");
    return s;
  }
  if (url.rfind("mssql://", 0) == 0 || url.rfind("sqlserver://", 0) == 0) {
    // The password comes from EDGARPIPE_MSSQL_PASSWORD or FreeTDS's configuration, never here.
    s.kind = SinkUrl::Kind::kMssql;
    s.target = std::string(url);
    if (has_password(url))
      throw UsageError(
          "do not put a password in --sink (it shows in ps and logs): set EDGARPIPE_MSSQL_PASSWORD or use "
          "freetds.conf");
    s.schema = mssql_url_schema(s.target);
    if (!s.schema.empty()) checked_schema(s.schema);
    return s;
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0 ||
      url.find('=') != std::string_view::npos) {
    // A libpq URI or key=value conninfo. Passwords belong in PGPASSWORD, ~/.pgpass or a service
    // file, not here: the sink text is logged and stored in ingest_runs.
    if (!kWithPostgres) open_postgres_admin({}, {}, false);  // says the build has no PostgreSQL sink
    s.kind = SinkUrl::Kind::kPostgres;
    s.target = std::string(url);
    if (has_password(url))
      throw UsageError(
          "do not put a password in --sink (it shows in ps and logs): use PGPASSWORD, ~/.pgpass or a service file");
    s.schema = take_schema(s.target);
    if (!s.schema.empty() && s.target.find("options=") != std::string::npos)
      throw UsageError("--sink: schema= cannot be combined with options= (set search_path in options instead)");
    if (!s.schema.empty())  // every connection, reconnects included, resolves names in the schema
      s.target +=
          s.target.find("://") != std::string::npos
              ? std::string(s.target.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + s.schema
              : " options='-csearch_path=" + s.schema + "'";
    return s;
  }
  if (url == "null:" || url == "null") {
    s.kind = SinkUrl::Kind::kNull;
    return s;
  }
  throw UsageError("unknown sink '" + std::string(url) +
                   "' (expected sqlite:PATH, postgresql://..., mssql://... or null:)");
}

std::unique_ptr<SinkAdmin> open_sink_admin(const SinkUrl& url, bool read_only) {
  if (url.kind == SinkUrl::Kind::kNull) return std::make_unique<NullAdmin>();
  if (url.kind == SinkUrl::Kind::kPostgres) return open_postgres_admin(url.target, url.schema, read_only);
  if (url.kind == SinkUrl::Kind::kMssql) return open_mssql_admin(url.target);  // read_only: asks no writes
  return open_sqlite_admin(url.target, read_only);
}

void SinkAdmin::check_readable(std::string_view sink) {
  std::vector<TextRow> rows;
  try {
    rows = execute("SELECT max(version) FROM edgarpipe_schema");
  } catch (const std::exception&) {
    if (has_layout_1())
      throw SinkError(fmt::format("{} holds an earlier release's layout: `edgarpipe run` upgrades it", sink));
    throw SinkError(fmt::format("{} holds no edgarpipe tables (nothing loaded there yet; --sink names another)", sink));
  }
  const int version = rows.empty() || !rows[0][0] ? 0 : std::stoi(*rows[0][0]);
  if (version > kSchemaVersion)
    throw SinkError(fmt::format("{} holds edgarpipe's schema version {}, newer than this release's {}", sink, version,
                                kSchemaVersion));
}

std::unique_ptr<SinkWriter> open_sink_writer(const SinkUrl& url, std::int64_t run_id) {
  if (url.kind == SinkUrl::Kind::kNull) return std::make_unique<NullWriter>();
  if (url.kind == SinkUrl::Kind::kPostgres) return open_postgres_writer(url.target, run_id);
  if (url.kind == SinkUrl::Kind::kMssql) return open_mssql_writer(url.target, run_id);
  return open_sqlite_writer(url.target, run_id);
}

std::string_view storage_name(Storage storage) noexcept { return storage == Storage::kAnalytic ? "analytic" : "row"; }
std::optional<Storage> parse_storage(std::string_view name) noexcept {
  if (name == "row") return Storage::kRow;
  if (name == "analytic") return Storage::kAnalytic;
  return std::nullopt;
}

std::string schema_sql(const SinkUrl& url, bool with_indexes, Storage storage) {
  if (url.kind == SinkUrl::Kind::kNull) return "-- the null: sink has no schema\n";
  const SqlFlavor flavor = url.kind == SinkUrl::Kind::kPostgres ? SqlFlavor::kPostgres
                           : url.kind == SinkUrl::Kind::kMssql  ? SqlFlavor::kMssql
                                                                : SqlFlavor::kSqlite;
  std::string sql = url.kind == SinkUrl::Kind::kPostgres ? postgres_schema_sql(url.schema, storage)
                    : url.kind == SinkUrl::Kind::kMssql  ? mssql_schema_sql(url.target, storage)
                                                         : sqlite_schema_sql();
  const char* end = flavor == SqlFlavor::kMssql ? "\nGO\n" : ";\n";
  sql += "\n-- Views (docs/tables.md), applied with the tables:\n";
  for (const std::string& s : view_sql(flavor)) sql += s + end;
  sql += "\n-- The standard statements' lines (statement_lines.csv), inserted when the table is empty:\n";
  sql += statement_lines_seed_sql() + end;
  if (!with_indexes) return sql;
  sql += "\n-- Secondary indexes, built after the first load of a fresh database (not with --no-indexes):\n";
  for (const SecondaryIndex& i : secondary_indexes(flavor))
    sql += fmt::format("-- {}\n{}{}", i.serves, create_secondary_index_sql(i, flavor), end);
  return sql;
}

std::vector<std::string> replace_filer_sql(Dataset dataset, std::int64_t cik) {
  std::vector<std::string> sql;
  if (dataset == Dataset::kUnknown || cik < 0) return sql;
  for (const TableDef& t : all_tables())
    if (t.id != TableId::kConcepts && dataset_of(t.id) == dataset)  // concepts are shared by all filers
      sql.push_back(fmt::format("DELETE FROM {} WHERE cik = {}", t.name, cik));
  sql.push_back(fmt::format("DELETE FROM ingest_files WHERE dataset = '{}' AND cik = {}", dataset_name(dataset), cik));
  return sql;
}

std::string loaded_elsewhere_sql(std::string_view dataset, std::int64_t cik, std::int32_t page,
                                 std::uint64_t content_hash) {
  return fmt::format(
      "SELECT count(*) FROM ingest_files WHERE dataset = '{}' AND cik = {} AND page = {} AND status = 'loaded' AND "
      "content_hash = '{}'",
      dataset, cik, page, format_content_hash(content_hash));
}

Dataset dataset_of(TableId table) noexcept {
  return table == TableId::kEntities || table == TableId::kConcepts || table == TableId::kFacts ? Dataset::kCompanyfacts
                                                                                                : Dataset::kSubmissions;
}

void CommitReport::add(const CommitReport& other) {
  files_loaded += other.files_loaded;
  files_rejected += other.files_rejected;
  files_loaded_elsewhere += other.files_loaded_elsewhere;
  for (std::size_t t = 0; t < kTableCount; ++t) rows_by_table[t] += other.rows_by_table[t];
  rejections.insert(rejections.end(), other.rejections.begin(), other.rejections.end());
}

std::string format_content_hash(std::uint64_t hash) { return fmt::format("xxh3:{:016x}", hash); }

bool parse_content_hash(std::string_view text, std::uint64_t& hash) {
  if (text.size() != 21 || text.substr(0, 5) != "xxh3:") return false;
  hash = 0;
  for (char c : text.substr(5)) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    hash = hash * 16 + static_cast<std::uint64_t>(d);
  }
  return true;
}

std::string describe_error(std::string_view reason, std::int64_t offset) {
  if (offset < 0) return std::string(reason);
  return fmt::format("{} (at byte {})", reason, offset);
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace edgarpipe
