// The `edgarpipe` command line: dispatch to the commands, each with its own --help, and the small
// read-only commands (status, rejects, schema) and cleanup. `run` lives in supervisor.cpp, `tune`
// in tune.cpp, `fetch` and `sync` in fetch.cpp.
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edgarpipe/cli/commands.hpp"
#include "edgarpipe/core/calendar.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/identity.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

namespace {

using json = nlohmann::json;
constexpr std::uint64_t kDefaultMaxFileBytes = kDefaultMaxFileMiB << 20;

constexpr const char* kOverview = R"(edgarpipe: loads the SEC EDGAR bulk JSON datasets into a database

usage: edgarpipe COMMAND [options]

  run PATH...        load EDGAR JSON files, folders and zip archives into a sink
  fetch              download the SEC's bulk archives, or the filers that filed since a day
  sync               fetch, then load what changed, in one command (for cron)
  status [PATH...]   the latest runs, what is loaded and rejected; with PATHs, those inputs by key
  rejects            the rejected files with their reasons
  schema             the DDL a sink applies: tables, views, secondary indexes
  asof               the table facts_asof: each period's value as known on a day
  frame              one concept's value for every filer in a calendar frame (the SEC's frames API)
  tune PATH...       trial runs over a sample to find the best --readers/--parsers/--writers
  cleanup            remove shared memory left behind by killed runs

Options of every command:
  -q, --quiet           only warnings and errors: no progress line, no summary of a clean run
  -v, --verbose         debug lines too (the stage processes, the shared memory of a run)
  --log-format FORMAT   text (default) | json: each message one JSON object on one line

exit status: 0 done, 1 failed (the reason on stderr), 2 usage error, 3 a run finished
             with rejected files, 128+N stopped by signal N (130: Ctrl-C)

edgarpipe COMMAND --help shows a command's options, with an example.
edgarpipe --version
)";

constexpr const char* kRunHelp = R"(usage: edgarpipe run PATH... [options]

Loads EDGAR JSON into the sink: folders (searched recursively for *.json files and *.zip
archives), zip archives as the SEC publishes them, or single files, in any mix. A file already
loaded with the same content under its SEC key is skipped; a changed one replaces its filer.

  --sink URL            sqlite:PATH (default sqlite:edgar.db), postgresql://USER@HOST:PORT/DB
                        (or a libpq key=value conninfo; password via PGPASSWORD or ~/.pgpass),
                        mssql://USER@HOST:PORT/DB (password via EDGARPIPE_MSSQL_PASSWORD), or
                        null: (count and discard); either password may also be a file,
                        pgpassword or mssql-password, in $CREDENTIALS_DIRECTORY (systemd)
  --readers N           reader processes (default 1)
  --parsers N           parser processes (default 2)
  --writers N           writer processes (default 1; SQLite takes one writer at a time)
  --dataset D           submissions | companyfacts: load only this dataset; inputs of the
                        other are left out (by name, folder, else first keys)
  --max-file-size MiB   largest input file (or zip member) carried whole (default 256)
  --max-compression-ratio R  zip members that expand more are rejected uninflated (default 200)
  --shard I/N           load only shard I of N (0-based), grouped by CIK; N runs load it all
  --batch-size KiB      row-batch chunk size between parsers and writers (default 1024)
  --max-rejects N       fail the run once more than N files are rejected
  --retry-rejected      load only the inputs the sink holds as rejected
  --force               load every input even if loaded with the same content (replacing
                        its filer's rows)
  --verify              read and hash every input, even those a rerun would skip unread because
                        their zip CRC-32 and sizes (or file size and modification time) are
                        the ones recorded when they loaded
  --prune               after a completed run, delete the filers that no input names any more
                        (in each dataset the inputs hold); needs the whole snapshot. Not run
                        when an input could not be read; refused (exit 2, nothing deleted) past
                        --max-prune-fraction
  --max-prune-fraction F  the most --prune deletes, as a share of a dataset's loaded filers
                        (default 0.05; 1 for a snapshot that truly shrank)
  --no-indexes          do not build the secondary indexes after a fresh database's first load
  --index-memory MiB    the most the index build sorts in memory before it spills to temporary
                        files (SQLite: in SQLITE_TMPDIR or TMPDIR; PostgreSQL:
                        maintenance_work_mem; default 64: larger sorts measured slower)
  --storage S           how a fresh database stores facts: row (default) or analytic
                        (PostgreSQL: hash-partitioned by CIK; SQL Server: clustered columnstore);
                        an existing database keeps its own
  --max-restarts N      after a stage process dies, restart the stages over the unfinished
                        files at most N times (0 to 100, default 3; 0: fail the run at once)
  --summary-json FILE   write the run summary as JSON (- for standard output)
  --metrics-file FILE   rewrite FILE 4 times a second in the Prometheus text format (for
                        node_exporter's textfile collector)
  --progress WHEN       auto (on a terminal) | always | never (default auto)
  --progress-interval N  seconds between progress lines (default 1 on a terminal, 10
                        elsewhere)
  --options FILE        read options from FILE (as written by `edgarpipe tune --write FILE`)
Options take their value as the next argument or after '=' (--sink=sqlite:x.db).

exit status: 0 all files loaded or skipped, 3 some files rejected, 1 the run failed,
             2 usage error (or no input found), 130/143 interrupted by SIGINT/SIGTERM
example: edgarpipe run submissions.zip companyfacts.zip --sink postgresql://loader@db/edgar --writers 2
)";

constexpr const char* kStatusHelp = R"(usage: edgarpipe status [--sink URL] [--json] [PATH...]

The latest runs and their state, files loaded and rejected per dataset; with PATHs, those
inputs by dataset and key: loaded (the same content), changed (other content under a loaded
key; inputs whose size matches are read to tell), new, rejected. Never creates a database.

  --sink URL   the database (default sqlite:edgar.db)
  --json       one JSON document instead of tables

example: edgarpipe status --sink sqlite:edgar.db /data/sec/submissions.zip
)";

constexpr const char* kRejectsHelp = R"(usage: edgarpipe rejects [--sink URL] [--run N] [--json]

Every rejected file: dataset, its key's SEC name, the path it was read from, the run, and the
reason with its byte offset where known; as TSV with a header line (a tab, newline or
backslash in a field written \t, \n, \\), or JSON lines with --json. Never creates a database.

  --sink URL   the database (default sqlite:edgar.db)
  --run N      only the files that run rejected
  --json       one JSON object per line

example: edgarpipe rejects --sink sqlite:edgar.db --run 12
)";

constexpr const char* kSchemaHelp = R"(usage: edgarpipe schema [--sink URL] [--no-indexes] [--storage row|analytic]

Prints the DDL the sink applies (tables, views, and the secondary indexes a first load builds),
for review before a first load. Connects to nothing.

  --sink URL     the kind of sink and its options (default sqlite:edgar.db)
  --no-indexes   leave the secondary indexes out
  --storage S    the facts storage of a first load with `run --storage S` (default row)

example: edgarpipe schema --sink 'mssql://loader@db:1433/edgar?text=utf8'
)";

constexpr const char* kAsofHelp = R"(usage: edgarpipe asof --date YYYY-MM-DD [--sink URL]

Replaces the table facts_asof with each period's value as it was known on a day: per cik,
taxonomy, concept, unit and period, of the values filed on or before the day, the latest (filed,
then the accession number), with the columns of facts and as_of. A backtest reads it instead of
facts_latest, which knows later restatements. Facts without a filing date are left out.

  --date D     the day, YYYY-MM-DD
  --sink URL   the database (default sqlite:edgar.db)

example: edgarpipe asof --date 2020-06-30 --sink postgresql://analyst@db/edgar
)";

constexpr const char* kFrameHelp = R"(usage: edgarpipe frame TAXONOMY:CONCEPT UNIT FRAME [--sink URL] [--csv]

The SEC's frames API answered from the loaded companyfacts: for one concept, unit and calendar
frame, the fact each filer reported for it (the one the SEC framed: the latest filing's), with
the filer's name, the accession number, the period and the filing date. One row per filer, by
cik; printed as a table, or CSV with a header line (--csv).

  TAXONOMY:CONCEPT  us-gaap:Assets, dei:EntityCommonStockSharesOutstanding, ...
  UNIT              as companyfacts writes it: USD, shares, USD/shares, pure (the API's
                    USD-per-shares is taken too)
  FRAME             CY2024 (a calendar year), CY2024Q3 (a quarter), CY2024Q3I (an instant)
  --sink URL        the database (default sqlite:edgar.db)
  --csv             CSV (RFC 4180) instead of a table

example: edgarpipe frame us-gaap:Assets USD CY2023Q4I --sink sqlite:edgar.db --csv > assets.csv
)";

constexpr const char* kCleanupHelp = R"(usage: edgarpipe cleanup [--dry-run]

Removes the shared-memory segments (/dev/shm/edgarpipe-*) of runs whose supervisor no longer
exists (a run killed with kill -9). A new run also does this.

  --dry-run   list them, remove nothing

example: edgarpipe cleanup --dry-run
)";

// The arguments after the command, with --name=value split into --name value.
std::vector<std::string> arguments(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      args.push_back(a.substr(0, eq));
      args.push_back(a.substr(eq + 1));
    } else {
      args.push_back(a);
    }
  }
  return args;
}

bool wants_help(int argc, char** argv) {
  for (int i = 2; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") return true;
  return false;
}

// Read-only commands look at a database that must exist: opening a missing SQLite file would
// create an empty one.
void require_existing(const SinkUrl& url) {
  if (url.kind != SinkUrl::Kind::kSqlite) return;
  std::error_code ec;
  if (!std::filesystem::exists(url.target, ec))
    throw std::runtime_error(
        fmt::format("no database at {} (nothing loaded there yet; --sink names another)", url.target));
}

void print_table(const std::vector<std::string>& header, const std::vector<SinkAdmin::TextRow>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].value_or("-").size());
  auto line = [&](auto cell) {
    std::string out;
    for (std::size_t c = 0; c < width.size(); ++c) out += fmt::format("{:<{}}  ", cell(c), width[c]);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    fmt::print("{}\n", out);
  };
  line([&](std::size_t c) { return header[c]; });
  for (const auto& row : rows)
    line([&](std::size_t c) { return c < row.size() ? row[c].value_or("-") : std::string("-"); });
}

// Rows as JSON objects; the columns named in `numeric` (counts, ids) as numbers, so scripts
// compare them without converting, NULL as null.
json rows_json(const std::vector<std::string>& header, const std::vector<SinkAdmin::TextRow>& rows,
               const std::set<std::string>& numeric) {
  json out = json::array();
  for (const auto& row : rows) {
    json o;
    for (std::size_t c = 0; c < header.size() && c < row.size(); ++c) {
      if (!row[c]) {
        o[header[c]] = nullptr;
      } else if (numeric.count(header[c])) {
        std::int64_t n = 0;
        const std::string& t = *row[c];
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        o[header[c]] = ec == std::errc{} && end == t.data() + t.size() ? json(n) : json(t);
      } else {
        o[header[c]] = *row[c];
      }
    }
    out.push_back(o);
  }
  return out;
}

// The inputs named, by dataset and key: loaded, changed, new, rejected.
std::map<std::string, std::array<std::uint64_t, 4>> inputs_by_key(SinkAdmin& admin,
                                                                  const std::vector<std::string>& paths,
                                                                  std::uint64_t& duplicates) {
  InputList inputs = enumerate_inputs(paths, InputOptions{});
  duplicates = resolve_identities(inputs, kDefaultMaxFileBytes).duplicates;
  const auto loaded = admin.loaded_files();
  std::map<FileKey, std::uint64_t> sizes = admin.loaded_sizes();  // a file of another size has changed
  std::set<FileKey> rejected;
  std::set<std::string> rejected_paths;
  for (const IngestRecord& r : admin.ingest_records(std::nullopt)) {
    if (r.key.cik >= 0)
      rejected.insert(r.key);
    else
      rejected_paths.insert(r.source_path);
  }
  enum Verdict { kLoaded, kChanged, kNew, kRejected };
  std::map<std::string, std::array<std::uint64_t, 4>> counts;
  for (const InputFile& f : inputs.files) {
    Dataset dataset = f.hint;
    Verdict verdict = kNew;
    if (f.key_cik < 0) {
      verdict = rejected_paths.count(inputs.source_path(f)) ? kRejected : kNew;
    } else {
      std::optional<InputIdentity> id;
      for (const Dataset d : {Dataset::kSubmissions, Dataset::kCompanyfacts}) {
        if (f.hint != Dataset::kUnknown && d != f.hint) continue;
        const auto it = loaded.find({d, f.key_cik, f.key_page});
        if (it == loaded.end()) continue;
        if (sizes[{d, f.key_cik, f.key_page}] == f.size && !id) id = identify_input(inputs, f, kDefaultMaxFileBytes);
        if (id && id->read && id->hash == it->second.hash) {
          dataset = d;
          verdict = kLoaded;
          break;
        }
        if (f.hint != Dataset::kUnknown) verdict = kChanged;
      }
      if (verdict != kLoaded && dataset == Dataset::kUnknown) {  // no hint: the content says which
        if (!id) id = identify_input(inputs, f, kDefaultMaxFileBytes);
        dataset = id->dataset;
        if (loaded.count({dataset, f.key_cik, f.key_page})) verdict = kChanged;
      }
      if (verdict == kNew && (rejected.count({dataset, f.key_cik, f.key_page}) ||
                              rejected.count({Dataset::kUnknown, f.key_cik, f.key_page})))
        verdict = kRejected;
    }
    ++counts[std::string(dataset_name(dataset))][verdict];
  }
  return counts;
}

int status_command(const std::vector<std::string>& args) {
  std::string sink = "sqlite:edgar.db";
  bool as_json = false;
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size())
      sink = args[++i];
    else if (args[i] == "--json")
      as_json = true;
    else if (args[i].size() > 1 && args[i][0] == '-')
      throw UsageError(fmt::format("status: unknown option {}", args[i]));
    else
      paths.push_back(args[i]);
  }
  const SinkUrl url = parse_sink_url(sink);
  require_existing(url);
  auto admin = open_sink_admin(url, /*read_only=*/true);
  admin->check_readable(url.text);
  const auto runs = admin->latest_runs(10);
  const auto files = admin->file_totals();
  const std::vector<std::string> run_header = {"run",    "started", "finished", "status", "seen",
                                               "loaded", "skipped", "rejected", "rows"};
  const std::vector<std::string> file_header = {"dataset", "status", "files", "rows"};
  std::uint64_t duplicates = 0;
  std::map<std::string, std::array<std::uint64_t, 4>> inputs;
  if (!paths.empty()) inputs = inputs_by_key(*admin, paths, duplicates);
  if (as_json) {
    json out = {{"runs", rows_json(run_header, runs, {"run", "seen", "loaded", "skipped", "rejected", "rows"})},
                {"files", rows_json(file_header, files, {"files", "rows"})}};
    if (!paths.empty()) {
      out["inputs"] = json::object();
      for (const auto& [dataset, c] : inputs)
        out["inputs"][dataset] = {{"loaded", c[0]}, {"changed", c[1]}, {"new", c[2]}, {"rejected", c[3]}};
      out["inputs_duplicate"] = duplicates;
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("Runs (latest first):\n");
  print_table(run_header, runs);
  fmt::print("\nFiles:\n");
  print_table(file_header, files);
  if (paths.empty()) return 0;
  std::vector<SinkAdmin::TextRow> rows;
  std::uint64_t total = duplicates;
  for (const auto& [dataset, c] : inputs) {
    rows.push_back({dataset, std::to_string(c[0]), std::to_string(c[1]), std::to_string(c[2]), std::to_string(c[3])});
    total += c[0] + c[1] + c[2] + c[3];
  }
  fmt::print("\nInputs named ({} files{}), by dataset and key:\n", total,
             duplicates ? fmt::format(", {} of them copies of a key given again", duplicates) : "");
  print_table({"dataset", "loaded", "changed", "new", "rejected"}, rows);
  fmt::print("(a run loads the changed and new ones, and tries the rejected ones again)\n");
  return 0;
}

int rejects_command(const std::vector<std::string>& args) {
  std::string sink = "sqlite:edgar.db";
  std::optional<std::int64_t> run;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size())
      sink = args[++i];
    else if (args[i] == "--run" && i + 1 < args.size())
      run = parse_count("--run", args[++i], 2'000'000'000);
    else if (args[i] == "--json")
      as_json = true;
    else
      throw UsageError(fmt::format("rejects: unknown argument {}", args[i]));
  }
  const SinkUrl url = parse_sink_url(sink);
  require_existing(url);
  auto admin = open_sink_admin(url, /*read_only=*/true);
  admin->check_readable(url.text);
  const std::vector<std::string> header = {"dataset", "source_file", "source_path", "run_id", "error"};
  const auto rows = admin->rejected_files(run);
  if (as_json) {
    for (const json& row : rows_json(header, rows, {"run_id"})) fmt::print("{}\n", row.dump());
    return 0;
  }
  // A field with a tab, newline or backslash (a member name may hold any of them) is escaped, so
  // every reject is one line of five fields.
  fmt::print("dataset\tsource_file\tsource_path\trun_id\terror\n");
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < header.size(); ++i)
      line.append(i == 0 ? "" : "\t").append(log::escape_control(row[i].value_or(""), /*backslashes=*/true));
    fmt::print("{}\n", line);
  }
  return 0;
}

int schema_command(const std::vector<std::string>& args) {
  std::string sink = "sqlite:edgar.db";
  bool indexes = true;
  Storage storage = Storage::kRow;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size()) {
      sink = args[++i];
    } else if (args[i] == "--no-indexes") {
      indexes = false;
    } else if (args[i] == "--storage" && i + 1 < args.size()) {
      const auto s = parse_storage(args[++i]);
      if (!s) throw UsageError(fmt::format("--storage takes row or analytic, not '{}'", args[i]));
      storage = *s;
    } else {
      throw UsageError(fmt::format("schema: unknown argument {}", args[i]));
    }
  }
  fmt::print("{}", schema_sql(parse_sink_url(sink), indexes, storage));
  return 0;
}

int asof_command(const std::vector<std::string>& args) {
  std::string sink = "sqlite:edgar.db";
  std::string date;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size())
      sink = args[++i];
    else if (args[i] == "--date" && i + 1 < args.size())
      date = args[++i];
    else
      throw UsageError(fmt::format("asof: unknown argument {}", args[i]));
  }
  unsigned year, month, day;
  if (date.empty()) throw UsageError("asof needs --date YYYY-MM-DD");
  if (!split_date(date, year, month, day))
    throw UsageError(fmt::format("asof: --date {} is not a day written YYYY-MM-DD", date));
  const SinkUrl url = parse_sink_url(sink);
  if (url.kind == SinkUrl::Kind::kNull) throw UsageError("asof: the null: sink holds no facts");
  require_existing(url);
  auto admin = open_sink_admin(url);
  admin->check_readable(url.text);
  const auto started = std::chrono::steady_clock::now();
  const std::uint64_t rows = admin->materialize_facts_asof(date);
  log::info("facts_asof: {} facts as known on {} ({:.1f} s)", rows, date,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; NULL is empty.
std::string csv_field(const std::optional<std::string>& value) {
  if (!value) return {};
  if (value->find_first_of(",\"\r\n") == std::string::npos) return *value;
  std::string out = "\"";
  for (const char c : *value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int frame_command(const std::vector<std::string>& args) {
  std::string sink = "sqlite:edgar.db";
  bool csv = false;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--sink" && i + 1 < args.size())
      sink = args[++i];
    else if (args[i] == "--csv")
      csv = true;
    else if (args[i].starts_with("--"))
      throw UsageError(fmt::format("frame: unknown argument {}", args[i]));
    else
      words.push_back(args[i]);
  }
  if (words.size() != 3)
    throw UsageError("frame needs TAXONOMY:CONCEPT UNIT FRAME, for example: us-gaap:Assets USD CY2023Q4I");
  FrameQuery query;
  try {
    query = parse_frame_query(words[0], words[1], words[2]);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("frame: {}", e.what()));
  }
  const SinkUrl url = parse_sink_url(sink);
  if (url.kind == SinkUrl::Kind::kNull) throw UsageError("frame: the null: sink holds no facts");
  require_existing(url);
  auto admin = open_sink_admin(url);
  admin->check_readable(url.text);
  const auto rows = admin->frame(query);
  const std::vector<std::string> header = {
      "cik", "entity_name", "accession_number", "period_start", "period_end", "value", "form", "filed"};
  if (csv) {
    fmt::print("{}\n", fmt::join(header, ","));
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t c = 0; c < row.size(); ++c) line += (c == 0 ? "" : ",") + csv_field(row[c]);
      fmt::print("{}\n", line);
    }
  } else {
    print_table(header, rows);
  }
  log::info("{}:{} {} {}: {} filer{}", query.taxonomy, query.concept_name, query.unit, query.frame, rows.size(),
            rows.size() == 1 ? "" : "s");
  return 0;
}

int cleanup_command(const std::vector<std::string>& args) {
  bool dry_run = false;
  for (const std::string& a : args) {
    if (a == "--dry-run")
      dry_run = true;
    else
      throw UsageError(fmt::format("cleanup: unknown argument {}", a));
  }
  const auto stale = ipc::remove_stale_segments(dry_run);
  for (const auto& name : stale) fmt::print("{} /dev/shm/{}\n", dry_run ? "would remove" : "removed", name);
  fmt::print("{} segments {}\n", stale.size(), dry_run ? "of dead runs (none removed: --dry-run)" : "removed");
  return 0;
}

}  // namespace

// systemd's LoadCredential= (and any runner that mounts secrets as files) puts them under
// $CREDENTIALS_DIRECTORY: `pgpassword` and `mssql-password` become the variables libpq and the
// SQL Server sink read, unless those are set already. The stage processes inherit them.
void load_credentials() {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr) return;
  for (const auto& [file, variable] :
       {std::pair{"pgpassword", "PGPASSWORD"}, std::pair{"mssql-password", "EDGARPIPE_MSSQL_PASSWORD"}}) {
    if (std::getenv(variable) != nullptr) continue;
    std::ifstream in(std::filesystem::path(dir) / file);
    std::string secret;
    if (!in || !std::getline(in, secret)) continue;  // the first line: a trailing newline is not the password's
    ::setenv(variable, secret.c_str(), 1);
  }
}

int cli_main(int argc, char** argv) {
  log::configure_from_environment();  // a run started by sync or tune follows their -q/-v
  load_credentials();
  try {
    argc = log::take_options(argc, argv);
  } catch (const std::invalid_argument& e) {
    log::error("{}", e.what());
    return 2;
  }
  const std::string command = argc >= 2 ? argv[1] : "";
  const std::map<std::string, const char*> help = {
      {"run", kRunHelp},   {"status", kStatusHelp}, {"rejects", kRejectsHelp}, {"schema", kSchemaHelp},
      {"asof", kAsofHelp}, {"frame", kFrameHelp},   {"cleanup", kCleanupHelp}};
  try {
    if (command.empty()) throw UsageError("missing command");
    if (command == "--help" || command == "-h" || command == "help") {
      fmt::print("{}", kOverview);
      return 0;
    }
    if (command == "--version") {
      fmt::print("edgarpipe {}\n", EDGARPIPE_VERSION);
      return 0;
    }
    if (command == "tune") return tune_main(argc, argv);
    if (command == "fetch") return fetch_main(argc, argv);
    if (command == "sync") return sync_main(argc, argv);
    if (help.count(command) && wants_help(argc, argv)) {
      fmt::print("{}", help.at(command));
      return 0;
    }
    if (command == "run") return run_main(argc, argv);
    if (command == "status") return status_command(arguments(argc, argv));
    if (command == "rejects") return rejects_command(arguments(argc, argv));
    if (command == "schema") return schema_command(arguments(argc, argv));
    if (command == "asof") return asof_command(arguments(argc, argv));
    if (command == "frame") return frame_command(arguments(argc, argv));
    if (command == "cleanup") return cleanup_command(arguments(argc, argv));
    throw UsageError(fmt::format("unknown command '{}'", command));
  } catch (const UsageError& e) {
    const bool known = help.count(command) > 0;
    log::error("{} (edgarpipe {}--help for {})", e.what(), known ? command + " " : "",
               known ? "its options" : "the commands");
    return 2;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
}

}  // namespace edgarpipe
