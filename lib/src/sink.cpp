#include "edgarpipe/sink.hpp"

#include <fmt/format.h>

#include <ctime>

#include "edgarpipe/sources.hpp"

namespace edgarpipe {

std::unique_ptr<SinkAdmin> open_sqlite_admin(const std::string& path);
std::unique_ptr<SinkWriter> open_sqlite_writer(const std::string& path, std::int64_t run_id);
std::string sqlite_schema_sql();

namespace {

class NullAdmin final : public SinkAdmin {
 public:
  void create_schema() override {}
  std::int64_t begin_run(const RunStart&) override { return static_cast<std::int64_t>(std::time(nullptr)); }
  void finish_run(std::int64_t, const RunTotals&) override {}
  std::unordered_map<std::string, std::vector<std::uint64_t>> loaded_hashes() override { return {}; }
};

// Counts and discards: measures the pipeline without a database.
class NullWriter final : public SinkWriter {
 public:
  void begin_file() override { file_rows_ = {}; }
  const std::byte* row(TableId table, const std::byte* values) override {
    ++file_rows_[static_cast<std::size_t>(table)];
    return skip_row_values(table, values);
  }
  FileVerdict end_file(const FileEndInfo& end, const FileMeta&) override {
    FileVerdict v;
    v.loaded = end.status == FileStatus::kLoaded;
    if (v.loaded)
      std::copy(file_rows_.begin(), file_rows_.end(), v.rows_by_table);
    else
      v.error = describe_error(end.error, end.error_offset);
    return v;
  }
  void commit() override {}

 private:
  std::array<std::uint64_t, kTableCount> file_rows_{};
};

}  // namespace

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
  if (url == "null:" || url == "null") {
    s.kind = SinkUrl::Kind::kNull;
    return s;
  }
  throw UsageError("unknown sink '" + std::string(url) + "' (expected sqlite:PATH or null:)");
}

std::unique_ptr<SinkAdmin> open_sink_admin(const SinkUrl& url) {
  if (url.kind == SinkUrl::Kind::kNull) return std::make_unique<NullAdmin>();
  return open_sqlite_admin(url.target);
}

std::unique_ptr<SinkWriter> open_sink_writer(const SinkUrl& url, std::int64_t run_id) {
  if (url.kind == SinkUrl::Kind::kNull) return std::make_unique<NullWriter>();
  return open_sqlite_writer(url.target, run_id);
}

std::string schema_sql(const SinkUrl& url) {
  if (url.kind == SinkUrl::Kind::kNull) return "-- the null: sink has no schema\n";
  return sqlite_schema_sql();
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
