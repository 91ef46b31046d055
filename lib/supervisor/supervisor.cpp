// The supervisor (`edgarpipe run`) and the small CLI around it.
//
// A run: list the inputs, ask the sink what is already loaded, create the control segment and
// one pool segment per producer (pre-faulted), fork+exec the stage processes, then wait for
// them with signals blocked and taken synchronously (sigtimedwait), so Ctrl-C, child exits and
// the progress line are handled in one loop with no async-signal hazards.
// Segments are removed on every way out (RAII), also when a stage fails or the user interrupts.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/identity.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"
#include "edgarpipe/supervisor/progress.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

std::uint32_t parse_count(std::string_view flag, std::string_view value, std::uint32_t max) {
  const auto refuse = [&] {
    return UsageError(fmt::format("{} needs a number from 1 to {}, not '{}'", flag, max, value));
  };
  std::uint32_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || n > max) throw refuse();
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value.empty() || n < 1 || n > max) throw refuse();
  return n;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kMiB = 1024 * 1024;

struct RunOptions {
  std::vector<std::string> paths;
  std::string sink = "sqlite:edgar.db";
  std::uint32_t readers = 1, parsers = 2, writers = 1;
  Dataset dataset = Dataset::kUnknown;
  std::uint64_t max_file_mib = kDefaultMaxFileMiB;
  std::uint64_t batch_kib = 1024;
  std::string summary_json;
  std::string progress = "auto";
  std::optional<std::uint32_t> progress_interval;  // seconds; default 1 on a terminal, 10 otherwise
  InputOptions inputs;
  std::optional<std::uint64_t> max_rejects;
  bool retry_rejected = false;
  bool force = false;
  bool prune = false;
  bool no_indexes = false;         // --no-indexes: leave the secondary indexes to the operator
  std::optional<Storage> storage;  // --storage: for a fresh database (unset: row, or what it has)
  std::uint32_t max_restarts = 3;
  std::string metrics_file;
};

// The arguments of `run`: `--name=value` split in two, and `--options FILE` replaced by the
// options in FILE (whitespace-separated; `#` starts a comment line), as `edgarpipe tune --write
// FILE` writes them. Each argument keeps where it came from, for the error messages.
struct Argument {
  std::string text;
  std::string origin;  // "" on the command line, else "FILE line N"
};
std::vector<Argument> expand_arguments(int argc, char** argv) {
  std::vector<Argument> args;
  const auto add = [&](const std::string& a, const std::string& origin) {
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      args.push_back({a.substr(0, eq), origin});
      args.push_back({a.substr(eq + 1), origin});
    } else {
      args.push_back({a, origin});
    }
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string file;
    if (arg == "--options") {
      if (i + 1 >= argc) throw UsageError("--options needs a file");
      file = argv[++i];
    } else if (arg.rfind("--options=", 0) == 0) {
      file = std::string(arg.substr(10));
    } else {
      add(std::string(arg), "");
      continue;
    }
    std::ifstream in(file);
    if (!in) throw UsageError(fmt::format("--options: cannot read {}", file));
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      const auto first = line.find_first_not_of(" \t");
      if (first != std::string::npos && line[first] == '#') continue;
      std::istringstream words(line);
      for (std::string word; words >> word;) add(word, fmt::format("{} line {}", file, number));
    }
  }
  return args;
}

RunOptions parse_run_arguments(const std::vector<Argument>& args, std::size_t& i);

RunOptions parse_run_options(int argc, char** argv) {
  const std::vector<Argument> args = expand_arguments(argc, argv);
  std::size_t i = 0;
  try {
    return parse_run_arguments(args, i);
  } catch (const UsageError& e) {
    if (i < args.size() && !args[i].origin.empty())
      throw UsageError(fmt::format("{} (in {})", e.what(), args[i].origin));
    throw;
  }
}

RunOptions parse_run_arguments(const std::vector<Argument>& args, std::size_t& i) {
  RunOptions o;
  for (i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i].text;
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("{} needs a value", arg));
      return args[++i].text;
    };
    if (arg == "--sink")
      o.sink = value();
    else if (arg == "--readers")
      o.readers = parse_count(arg, value(), 64);
    else if (arg == "--parsers")
      o.parsers = parse_count(arg, value(), 64);
    else if (arg == "--writers")
      o.writers = parse_count(arg, value(), 64);
    else if (arg == "--max-file-size")
      o.max_file_mib = parse_count(arg, value(), 4096);
    else if (arg == "--batch-size")
      o.batch_kib = parse_count(arg, value(), 256 * 1024);
    else if (arg == "--metrics-file")
      o.metrics_file = value();
    else if (arg == "--summary-json")
      o.summary_json = value();
    else if (arg == "--progress") {
      o.progress = value();
      if (o.progress != "auto" && o.progress != "always" && o.progress != "never")
        throw UsageError(fmt::format("--progress takes auto, always or never, not '{}'", o.progress));
    } else if (arg == "--progress-interval") {
      o.progress_interval = parse_count(arg, value(), 3600);
    } else if (arg == "--max-rejects") {
      const std::string_view v = value();
      o.max_rejects = v == "0" ? 0 : parse_count(arg, v, 1'000'000'000);
    } else if (arg == "--retry-rejected") {
      o.retry_rejected = true;
    } else if (arg == "--prune") {
      o.prune = true;
    } else if (arg == "--no-indexes") {
      o.no_indexes = true;
    } else if (arg == "--storage") {
      const std::string_view v = value();
      o.storage = parse_storage(v);
      if (!o.storage) throw UsageError(fmt::format("--storage takes row or analytic, not '{}'", v));
    } else if (arg == "--max-restarts") {
      const std::string_view v = value();
      if (v != "0" && (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos || v.size() > 3 ||
                       std::stoul(std::string(v)) > 100))
        throw UsageError(fmt::format("--max-restarts takes a number from 0 to 100, not '{}'", v));
      o.max_restarts = static_cast<std::uint32_t>(std::stoul(std::string(v)));
    } else if (arg == "--force") {
      o.force = true;
    } else if (arg == "--max-compression-ratio") {
      o.inputs.max_compression_ratio = parse_count(arg, value(), 1'000'000);
    } else if (arg == "--shard") {
      const std::string_view v = value();
      const auto refuse = [&] {
        // An unexpanded $(VAR) is a scheduler's variable its engine did not substitute.
        return UsageError(fmt::format("--shard takes I/N with 0 <= I < N <= 100000, e.g. 0/4, not '{}'{}", v,
                                      v.find('$') != std::string_view::npos ? " (a variable left unexpanded)" : ""));
      };
      const auto slash = v.find('/');
      if (slash == std::string_view::npos) throw refuse();
      const std::string_view index = v.substr(0, slash);
      try {
        o.inputs.shard_count = parse_count("--shard N", v.substr(slash + 1), 100000);
        o.inputs.shard_index = index == "0" ? 0 : parse_count("--shard I", index, 100000);
      } catch (const UsageError&) {
        throw refuse();
      }
      if (o.inputs.shard_index >= o.inputs.shard_count) throw refuse();
    } else if (arg == "--dataset") {
      const std::string_view d = value();
      if (d == "submissions")
        o.dataset = Dataset::kSubmissions;
      else if (d == "companyfacts")
        o.dataset = Dataset::kCompanyfacts;
      else
        throw UsageError("--dataset takes submissions or companyfacts");
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError(fmt::format("unknown option {}", arg));
    } else {
      o.paths.emplace_back(arg);
    }
  }
  if (o.paths.empty()) throw UsageError("run needs at least one PATH");
  // Output files are checked before any work: a typo must not surface only after an hour's load.
  for (const auto& [flag, path] : {std::pair<const char*, const std::string&>{"--summary-json", o.summary_json},
                                   {"--metrics-file", o.metrics_file}}) {
    if (path.empty() || (path == "-" && std::string_view(flag) == "--summary-json")) continue;
    const std::filesystem::path parent = std::filesystem::absolute(path).parent_path();
    if (!std::filesystem::is_directory(parent) || ::access(parent.c_str(), W_OK) != 0)
      throw UsageError(
          fmt::format("{} {}: cannot write there ({} is not a writable folder)", flag, path, parent.string()));
  }
  // Pruning deletes what the inputs do not name: only sound when they are the whole snapshot.
  if (o.prune && o.inputs.shard_count > 1) throw UsageError("--prune needs the whole snapshot, not a --shard");
  if (o.prune && o.retry_rejected) throw UsageError("--prune cannot go with --retry-rejected");
  o.inputs.forced = o.dataset;
  if (o.readers + o.parsers + o.writers > 250) throw UsageError("at most 250 stage processes");
  return o;
}

// Pool sizes, per process, so they scale with the stage counts (a 16-core box running
// 2 readers, 12 parsers and 2 writers needs ~0.9 GiB of /dev/shm; the 2-core default ~0.4 GiB).
// Raw: most submissions files are a few KB, companyfacts a few MB, the largest tens of MB; one
// chunk of --max-file-size carries the rare giant whole. Batches: --batch-size chunks, enough to
// keep every writer fed (8 + 4 per writer).
std::vector<ipc::SizeClass> raw_classes(std::uint64_t max_file_bytes) {
  const std::uint64_t top = ipc::align_up(max_file_bytes, 4096);
  std::vector<ipc::SizeClass> classes;
  for (ipc::SizeClass c : {ipc::SizeClass{256 * 1024, 32}, ipc::SizeClass{4 * kMiB, 8}, ipc::SizeClass{32 * kMiB, 2}})
    if (c.chunk_bytes < top) classes.push_back(c);
  classes.push_back({top, 1});
  return classes;
}
std::vector<ipc::SizeClass> batch_classes(std::uint64_t chunk_bytes, std::uint32_t writers) {
  return {{ipc::align_up(chunk_bytes, 4096), 8 + 4 * writers}};
}

std::uint32_t chunk_total(const std::vector<ipc::SizeClass>& classes) {
  std::uint32_t n = 0;
  for (const auto& c : classes) n += c.count;
  return n;
}

// Every segment of the run; removed when the run ends, however it ends.
class RunSegments {
 public:
  ~RunSegments() {
    for (const auto& name : names_) ipc::SharedSegment::remove(name);
  }
  ipc::SharedSegment& create(const std::string& name, std::uint64_t size,
                             ipc::SharedSegment::Populate populate = ipc::SharedSegment::Populate::kAll) {
    segments_.push_back(ipc::SharedSegment::create(name, size, populate));
    names_.push_back(name);
    return segments_.back();
  }

 private:
  std::vector<std::string> names_;
  std::deque<ipc::SharedSegment> segments_;  // a deque: references handed out stay valid
};

std::string stage_path(const char* stage) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path dir = ec ? std::filesystem::path(".") : self.parent_path();
  return (dir / (std::string("edgarpipe-") + stage)).string();
}

struct StageProcesses {
  Role role;
  std::vector<pid_t> pids;
  // Per process, in pid order (analyse_stages): its busy share, and the seconds it slept waiting
  // for input and for room downstream. A stage whose processes differ widely is being fed or
  // drained unevenly, which the stage's average hides.
  std::vector<double> busy, wait_input_s, wait_output_s;
};

struct Summary {
  std::int64_t run_id = 0;
  std::string status;
  std::string sink;
  std::uint64_t files_seen = 0, files_loaded = 0, files_skipped = 0, files_rejected = 0, bytes = 0, unknown_columns = 0;
  std::uint64_t files_duplicate = 0;  // copies of a key given again with the same content (loaded once)
  std::uint64_t rows[kTableCount] = {};
  double seconds = 0;
  std::vector<StageProcesses> stages;
  std::string failure;
  // Per stage: the share of the run each process spent working (not asleep waiting for input or
  // for room downstream), averaged over the stage's processes.
  std::map<std::string, double> busy;
  std::string bottleneck, suggestion;
  std::vector<std::string> restarts;                     // why the stages were restarted, one entry per restart
  std::uint64_t filers_pruned = 0;                       // --prune
  std::vector<std::pair<Dataset, std::int64_t>> pruned;  // the first kPrunedListed of them

  std::uint64_t rows_total() const {
    std::uint64_t n = 0;
    for (auto r : rows) n += r;
    return n;
  }

  // The summary as text lines, the first a one-line verdict. With --log-format json, one JSON
  // line with that verdict as its message and the whole summary as its "summary" member. Its level
  // follows the outcome, so -q still shows a run that failed or rejected files.
  void print_human() const {
    const double mb = static_cast<double>(bytes) / 1e6;
    const double secs = seconds > 0 ? seconds : 1e-9;
    std::vector<std::string> lines;
    lines.push_back(fmt::format("run {} {} in {:.2f} s: {} files seen, {} loaded, {} skipped, {}{} rejected", run_id,
                                status, seconds, files_seen, files_loaded, files_skipped,
                                files_duplicate ? fmt::format("{} duplicate, ", files_duplicate) : "", files_rejected));
    lines.push_back(fmt::format(
        "  {} rows, {:.1f} MB read ({:.0f} files/s, {:.1f} MB/s)", rows_total(), mb,
        static_cast<double>(files_loaded + files_rejected + files_skipped + files_duplicate) / secs, mb / secs));
    std::string per_table;
    for (std::size_t t = 0; t < kTableCount; ++t)
      per_table += fmt::format("{}{} {}", t ? ", " : "", table_def(static_cast<TableId>(t)).name, rows[t]);
    lines.push_back(fmt::format("  rows by table: {}", per_table));
    if (unknown_columns) lines.push_back(fmt::format("  {} unknown filings columns ignored", unknown_columns));
    if (!busy.empty()) {
      std::string line;
      for (const char* role : {"reader", "parser", "writer"})
        if (busy.count(role)) line += fmt::format("{}{}s {:.0f}%", line.empty() ? "" : ", ", role, 100 * busy.at(role));
      lines.push_back(fmt::format("  busy: {}; bottleneck: {}s{}", line, bottleneck,
                                  suggestion.empty()               ? ""
                                  : suggestion.rfind("--", 0) == 0 ? fmt::format(" (try {})", suggestion)
                                                                   : fmt::format(" ({})", suggestion)));
    }
    std::string procs;
    for (const auto& s : stages)
      procs += fmt::format("{}{} {}{}", procs.empty() ? "" : ", ", s.pids.size(), role_name(s.role),
                           s.pids.size() == 1 ? "" : "s");
    lines.push_back(fmt::format("  stages: {}", procs));
    for (const auto& s : stages) {
      if (s.busy.size() < 2) continue;
      const auto [least, most] = std::minmax_element(s.busy.begin(), s.busy.end());
      if (*most - *least < 0.3) continue;
      std::string each;
      for (double b : s.busy) each += fmt::format("{}{:.0f}%", each.empty() ? "" : ", ", 100 * b);
      lines.push_back(fmt::format("  uneven {}s: busy {}", role_name(s.role), each));
    }
    for (const auto& why : restarts) lines.push_back(fmt::format("  restarted after: {}", why));
    if (!failure.empty()) lines.push_back(fmt::format("  failure: {}", failure));

    const log::Level level = status == "failed"                            ? log::Level::kError
                             : files_rejected > 0 || status != "completed" ? log::Level::kWarning
                                                                           : log::Level::kInfo;
    if (!log::enabled(level)) return;
    if (log::settings().format == log::Format::kJson) {
      log::write(level, lines.front(),
                 "\"summary\":" + to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    log::write(level, lines.front());
    std::string rest;
    for (std::size_t i = 1; i < lines.size(); ++i) rest += lines[i] + '\n';
    fmt::print(stderr, "{}", rest);
  }

  // The summary as `--summary-json` writes it and `tune` reads it back (nlohmann::ordered_json:
  // the keys in this order). Fractions and seconds are rounded to milliseconds.
  nlohmann::ordered_json to_json() const {
    const auto rounded = [](double x) { return std::round(x * 1000) / 1000; };
    const auto rounded_all = [&](const std::vector<double>& v) {
      auto out = nlohmann::json::array();
      for (double x : v) out.push_back(rounded(x));
      return out;
    };
    nlohmann::ordered_json rows_by_table = nlohmann::ordered_json::object();
    for (std::size_t t = 0; t < kTableCount; ++t) rows_by_table[table_def(static_cast<TableId>(t)).name] = rows[t];
    nlohmann::ordered_json stages_by_role = nlohmann::ordered_json::object();
    for (const auto& st : stages)
      stages_by_role[std::string(role_name(st.role))] = {{"processes", st.pids.size()},
                                                         {"pids", st.pids},
                                                         {"busy", rounded_all(st.busy)},
                                                         {"waiting_for_input_s", rounded_all(st.wait_input_s)},
                                                         {"waiting_for_output_s", rounded_all(st.wait_output_s)}};
    nlohmann::ordered_json busy_by_role = nlohmann::ordered_json::object();
    for (const auto& [role, fraction] : busy) busy_by_role[role] = rounded(fraction);
    auto pruned_filers = nlohmann::json::array();
    for (const auto& [dataset, cik] : pruned)
      pruned_filers.push_back({{"dataset", dataset_name(dataset)}, {"cik", cik}});
    return {{"run_id", run_id},
            {"supervisor_pid", ::getpid()},
            {"status", status},
            {"sink", sink},
            {"files_seen", files_seen},
            {"files_loaded", files_loaded},
            {"files_skipped", files_skipped},
            {"files_duplicate", files_duplicate},
            {"files_rejected", files_rejected},
            {"rows", rows_by_table},
            {"rows_total", rows_total()},
            {"bytes", bytes},
            {"seconds", rounded(seconds)},
            {"unknown_columns", unknown_columns},
            {"stages", stages_by_role},
            {"stage_busy", busy_by_role},
            {"bottleneck", bottleneck},
            {"suggestion", suggestion},
            {"restarts", restarts.size()},
            {"filers_pruned", filers_pruned},
            {"pruned", pruned_filers},
            {"failure", failure}};
  }
  // Invalid UTF-8 (a reason quoting a file's bytes) is written as U+FFFD, never a throw.
  std::string json() const { return to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }
};

class Supervisor {
 public:
  explicit Supervisor(RunOptions options) : o_(std::move(options)) {}

  int run() {
    // Signals are taken synchronously in wait_all(); blocked from the start so that an early
    // Ctrl-C still ends in an orderly 'interrupted' run with its segments removed.
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigprocmask(SIG_BLOCK, &handled, &original_mask_);
    const auto started = Clock::now();
    const SinkUrl sink_url = parse_sink_url(o_.sink);
    InputOptions whole = o_.inputs;  // the shard is taken below, once every input has its key
    whole.shard_count = 1;
    std::vector<InputFile> files = enumerate_inputs(o_.paths, whole);
    if (files.empty()) {
      std::string named;
      for (const auto& p : o_.paths) named += (named.empty() ? "" : ", ") + p;
      throw UsageError(
          fmt::format("no input found in {}: looked for *.json files and *.zip archives with *.json "
                      "members (folders are searched recursively)",
                      named));
    }
    const IdentityReport identity = resolve_identities(files, o_.max_file_mib * kMiB);
    for (std::size_t i = 0; i < identity.messages.size() && i < 10; ++i) log::warning("{}", identity.messages[i]);
    if (identity.messages.size() > 10)
      log::warning(
          "... and {} more keys given more than once ({} duplicate copies, {} with other "
          "content)",
          identity.messages.size() - 10, identity.duplicates, identity.conflicting);
    if (o_.inputs.shard_count > 1)  // renamed files have their CIK now
      std::erase_if(files,
                    [&](const InputFile& f) { return shard_of(f, o_.inputs.shard_count) != o_.inputs.shard_index; });
    summary_.files_duplicate = identity.duplicates;
    dropped_rejected_ = identity.conflicting;

    if (sink_url.kind == SinkUrl::Kind::kSqlite && o_.writers > 1)
      log::warning(
          "warning: --writers {}: SQLite takes one writing transaction at a time, so more writers "
          "only take turns (and load slower); use one, or a server database",
          o_.writers);
    check_shared_memory_at_start();
    auto admin = open_sink_admin(sink_url);
    for (const InputFile& f : files)
      if (const auto why = admin->refuse_source_path(f.source_path)) throw SinkError(*why);
    admin->set_storage(choose_storage(*admin, sink_url));
    admin->create_schema();
    if (o_.retry_rejected) {
      std::set<FileKey> rejected;
      std::set<std::string> rejected_paths;  // key-less rejects
      for (const IngestRecord& r : admin->ingest_records(std::nullopt)) {
        if (r.key.cik >= 0)
          rejected.insert(r.key);
        else
          rejected_paths.insert(r.source_path);
      }
      std::erase_if(files, [&](const InputFile& f) {
        if (f.key_cik < 0) return !rejected_paths.count(f.source_path);
        for (const Dataset d : {Dataset::kUnknown, Dataset::kSubmissions, Dataset::kCompanyfacts})
          if ((f.hint == Dataset::kUnknown || d == f.hint || d == Dataset::kUnknown) &&
              rejected.count({d, f.key_cik, f.key_page}))
            return false;
        return true;
      });
      log::info("--retry-rejected: {} of the inputs were rejected before", files.size());
    }
    const auto loaded = admin->loaded_hashes();
    for (std::size_t i = 0; i < files.size(); ++i) {
      files[i].origin = static_cast<std::uint32_t>(i);
      attach_known(files[i], loaded);
      files[i].reload = o_.force;
    }
    if (o_.force) force_main_files_only(files);
    log::debug("{} inputs for this run; {} keys already loaded in {}", files.size(), loaded.size(), sink_url.text);
    resolved_.assign(files.size(), Dataset::kUnknown);
    read_bytes_.assign(files.size(), 0);
    if (const std::uint64_t dead = admin->interrupt_dead_runs())
      log::warning("{} earlier run{} died without finishing (a supervisor killed); marked interrupted", dead,
                   dead == 1 ? "" : "s");
    RunStart start;
    for (const auto& p : o_.paths) start.sources += (start.sources.empty() ? "" : " ") + p;
    start.sink = sink_url.text;
    start.readers = o_.readers;
    start.parsers = o_.parsers;
    start.writers = o_.writers;
    summary_.run_id = admin->begin_run(start);
    summary_.sink = sink_url.text;
    summary_.files_seen = files.size();

    try {
      launch_with_restarts(*admin, files, sink_url);
      const bool reloaded =
          !failed_ && !interrupted_signal_ && files_changed_ > 0 && reload_unloaded(*admin, files, sink_url);
      if (reloaded || !summary_.restarts.empty()) recount_files(*admin);
      if (o_.prune && !failed_ && !interrupted_signal_) prune_absent(*admin, files);
      admin->retire_stale_records(summary_.run_id);
      if (!failed_ && !interrupted_signal_ && !o_.no_indexes && sink_url.kind != SinkUrl::Kind::kNull)
        build_indexes(*admin);
    } catch (const std::exception& e) {
      summary_.failure = e.what();
      failed_ = true;
    }
    // The copies of a key given with different content were rejected with the one that went
    // through the pipeline; the duplicates of a key were seen, and loaded once.
    summary_.files_rejected += dropped_rejected_;
    summary_.files_seen += summary_.files_duplicate + dropped_rejected_;
    summary_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    summary_.status = failed_ ? "failed" : interrupted_signal_ ? "interrupted" : "completed";

    RunTotals totals;
    totals.status = summary_.status;
    totals.files_seen = summary_.files_seen;
    totals.files_loaded = summary_.files_loaded;
    totals.files_skipped = summary_.files_skipped;
    totals.files_rejected = summary_.files_rejected;
    totals.rows_written = summary_.rows_total();
    admin->finish_run(summary_.run_id, totals);

    if (!o_.metrics_file.empty()) write_final_metrics();
    summary_.print_human();
    if (o_.summary_json == "-") {
      fmt::print("{}", summary_.json());
    } else if (!o_.summary_json.empty()) {
      std::ofstream out(o_.summary_json);
      out << summary_.json();
      if (!out) log::error("cannot write {}", o_.summary_json);
    }
    if (failed_) return 1;
    if (interrupted_signal_) return 128 + interrupted_signal_;
    return summary_.files_rejected ? 3 : 0;
  }

 private:
  // A changed file replaced its filer and took the 'loaded' mark off the filer's other files
  // (sink.hpp: replace_filer_sql): files the reader skipped as unchanged, and files loaded before
  // the replacement committed. They load in a second pass, as do files the database refused
  // because they met the filer's old rows (a new overflow page holding filings that the old main
  // file listed), so the run ends equal to a clean load of the snapshot. A crash before the
  // second pass costs nothing: the next run sees those files as not loaded. Returns whether it
  // ran: then the file counts of the summary must come from ingest_files (a file may have loaded,
  // or been refused, in the first pass and loaded again in the second); row counts add up both.
  bool reload_unloaded(SinkAdmin& admin, const std::vector<InputFile>& files, const SinkUrl& sink_url) {
    const auto loaded_now = admin.loaded_hashes();
    std::set<FileKey> rejected, refused;
    std::set<std::string> rejected_paths;
    for (const IngestRecord& r : admin.ingest_records(std::nullopt)) {
      if (r.key.cik < 0) {
        rejected_paths.insert(r.source_path);
        continue;
      }
      rejected.insert(r.key);
      if (refused_by_database(r.error)) refused.insert(r.key);
    }
    std::vector<InputFile> again;
    for (const InputFile& f : files) {
      if (f.key_cik < 0 && rejected_paths.count(f.source_path)) continue;
      const FileKey key = key_of(f);
      if (loaded_now.count(key) || (rejected.count(key) && !refused.count(key))) continue;
      again.push_back(f);
      again.back().known.clear();
      again.back().reload = false;
    }
    if (again.empty()) return false;

    if (o_.force)
      log::info("--force: {} files replaced their filers; loading the filers' {} other files", files_changed_,
                again.size());
    else
      log::info(
          "{} changed files replaced their filers; loading the {} unchanged files of those "
          "filers again",
          files_changed_, again.size());
    const auto stages = summary_.stages;
    const auto busy = summary_.busy;
    const auto bottleneck = summary_.bottleneck, suggestion = summary_.suggestion;
    launch_with_restarts(admin, std::move(again), sink_url);
    summary_.stages = stages;  // the stage analysis describes the main pass
    summary_.busy = busy;
    summary_.bottleneck = bottleneck;
    summary_.suggestion = suggestion;
    return true;
  }

  // After the first completed load of a fresh database: indexing once is faster than loading into
  // indexed tables. A failure leaves the load as it is (the next run tries again).
  void build_indexes(SinkAdmin& admin) {
    const auto started = Clock::now();
    try {
      // Not under another run's load (shards loading at once): the last one to finish builds them.
      if (!admin.build_secondary_indexes_pending()) return;
      if (!admin.alone()) {
        log::info(
            "other runs are loading into this sink; the last to finish builds the "
            "secondary indexes");
        return;
      }
      // On the whole dataset this takes minutes: say so before, not only after.
      log::info("building the secondary indexes");
      const std::vector<std::string> made = admin.build_secondary_indexes();
      if (made.empty()) return;
      std::string names;
      for (const std::string& n : made) names += (names.empty() ? "" : ", ") + n;
      log::info("built {} secondary indexes in {:.1f} s: {}", made.size(),
                std::chrono::duration<double>(Clock::now() - started).count(), names);
    } catch (const std::exception& e) {
      log::warning("could not build the secondary indexes ({}); the next run tries again", e.what());
    }
  }

  // --force replaces each filer once: through its main file, when that is an input. Its overflow
  // pages, skipped as unchanged, are then loaded by the second pass (reload_unloaded) after the
  // replacement took their marks off. Forcing them too would replace the filer once per page and
  // write the pages loaded before the last replacement twice.
  static void force_main_files_only(std::vector<InputFile>& files) {
    std::set<std::int64_t> main_files;  // CIKs of submissions main files forced in this run
    for (const InputFile& f : files)
      if (f.hint == Dataset::kSubmissions && f.key_page == 0 && !f.known.empty()) main_files.insert(f.key_cik);
    for (InputFile& f : files)
      if (f.key_page > 0 && main_files.count(f.key_cik)) f.reload = false;
  }

  // An input's key: the dataset it was found to be (by the stages), else its hint.
  FileKey key_of(const InputFile& f) const {
    const Dataset found = resolved_[f.origin];
    return {found != Dataset::kUnknown ? found : f.hint, f.key_cik, f.key_page};
  }

  // The content loaded under an input's key, in its dataset (in both, when its kind is not
  // known yet: the reader skips on either hash, the writer replaces only in the file's own).
  static void attach_known(InputFile& f, const std::unordered_map<FileKey, std::uint64_t, FileKeyHash>& loaded) {
    f.known.clear();
    if (f.key_cik < 0) return;
    for (const Dataset d : {Dataset::kSubmissions, Dataset::kCompanyfacts}) {
      if (f.hint != Dataset::kUnknown && d != f.hint) continue;
      if (const auto it = loaded.find({d, f.key_cik, f.key_page}); it != loaded.end())
        f.known.push_back({d, it->second});
    }
  }

  // --storage names how a fresh database stores facts; an existing one keeps its own, and a
  // run that asks for the other is refused before it loads (converting ~100M facts is a DBA's
  // decision: docs/tables.md, "Storage").
  Storage choose_storage(SinkAdmin& admin, const SinkUrl& sink_url) {
    if (sink_url.kind == SinkUrl::Kind::kSqlite || sink_url.kind == SinkUrl::Kind::kNull) {
      if (o_.storage == Storage::kAnalytic)
        log::info(
            "--storage analytic: SQLite has no partitioned or columnar tables; facts stay a rowid table "
            "(docs/tables.md, \"Storage\")");
      return Storage::kRow;
    }
    const std::optional<Storage> has = admin.stored_as();
    if (o_.storage && has && *has != *o_.storage)
      throw UsageError(
          fmt::format("--storage {}: this database holds facts as {} storage, chosen at its first load; "
                      "load into a new database (or schema=) to change it",
                      storage_name(*o_.storage), storage_name(*has)));
    return o_.storage.value_or(has.value_or(Storage::kRow));
  }

  // --prune: a filer is absent from the snapshot when none of the inputs is one of its files in a
  // dataset the inputs hold (a run over submissions alone never prunes companyfacts). Each
  // absent filer goes in its own transaction, so an interrupted prune leaves whole filers.
  static constexpr std::size_t kPrunedNamed = 20;       // on the message line
  static constexpr std::size_t kPrunedListed = 100000;  // in the summary JSON
  void prune_absent(SinkAdmin& admin, const std::vector<InputFile>& files) {
    std::set<Dataset> datasets;                       // held by the inputs
    std::set<std::pair<Dataset, std::int64_t>> keep;  // (dataset, cik) the inputs name
    for (const InputFile& f : files) {
      const FileKey key = key_of(f);
      if (key.dataset == Dataset::kUnknown || key.cik < 0) continue;
      datasets.insert(key.dataset);
      keep.emplace(key.dataset, key.cik);
    }
    std::set<std::pair<Dataset, std::int64_t>> gone;
    for (const auto& row : admin.query("SELECT DISTINCT dataset, cik FROM ingest_files WHERE cik IS NOT NULL")) {
      const std::pair<Dataset, std::int64_t> filer{dataset_from_name(row[0].value_or("")), std::stoll(*row[1])};
      if (datasets.count(filer.first) && !keep.count(filer)) gone.insert(filer);
    }
    std::string named;
    for (const auto& [dataset, cik] : gone) {
      admin.delete_filer(dataset, cik);
      if (summary_.pruned.size() < kPrunedListed) summary_.pruned.emplace_back(dataset, cik);
      if (summary_.pruned.size() <= kPrunedNamed)
        named += fmt::format("{}{} CIK {}", named.empty() ? "" : ", ", dataset_name(dataset), cik);
    }
    summary_.filers_pruned = gone.size();
    if (gone.size() > kPrunedNamed)
      named += fmt::format(" and {} more (--summary-json lists {})", gone.size() - kPrunedNamed,
                           gone.size() > kPrunedListed ? fmt::format("the first {}", kPrunedListed) : "them all");
    log::info("--prune: {} filers no input names any more were deleted{}{}", gone.size(), named.empty() ? "" : ": ",
              named);
  }

  // File counts from what the sink holds for this run, when the stage counters could count a
  // file twice (read in one pass or attempt, then again in the next).
  void recount_files(SinkAdmin& admin) {
    const auto count = [&](const char* status) {
      const auto rows = admin.query(fmt::format("SELECT count(*) FROM ingest_files WHERE status = '{}' AND run_id = {}",
                                                status, summary_.run_id));
      return rows.empty() || !rows[0][0] ? 0 : std::stoull(*rows[0][0]);
    };
    summary_.files_loaded = count("loaded");
    summary_.files_rejected = count("rejected");
    // A completed run finished or skipped every file. A stopped one skipped what its last attempt
    // skipped: every attempt reads the files skipped before again (they are never finished).
    summary_.files_skipped =
        failed_ || interrupted_signal_
            ? attempt_skipped_
            : summary_.files_seen - std::min(summary_.files_seen, summary_.files_loaded + summary_.files_rejected);
  }

  // Runs the stages over `files`; when a stage process dies, restarts them all over the files
  // this run has not finished, at most --max-restarts times in the whole run. All of them, not
  // only the dead one ("one for all", in Erlang/OTP's words): the stages share rings and pools
  // that a process killed mid-operation leaves half-changed, so the survivors stop (their
  // uncommitted transactions roll back), the segments are made afresh, and no live process ever
  // meets a dead one's leftovers. What survivors had committed is not redone: a file is
  // finished once this run's ingest_files row for it commits. A file that two dead processes
  // held in turn (a file that crashes the parser) is rejected with that reason instead of
  // being tried a third time.
  void launch_with_restarts(SinkAdmin& admin, std::vector<InputFile> files, const SinkUrl& sink_url) {
    for (;;) {
      restart_pending_ = false;
      launch_and_wait(files, sink_url);
      if (!restart_pending_) return;
      files = unfinished(admin, files);
      log::info("restarting the stages over the {} unfinished files", files.size());
    }
  }

  std::vector<InputFile> unfinished(SinkAdmin& admin, const std::vector<InputFile>& files) const {
    std::set<std::string> finished;  // by path: a run holds each key once (resolve_identities)
    for (const IngestRecord& r : admin.ingest_records(summary_.run_id)) finished.insert(r.source_path);
    const auto loaded = admin.loaded_hashes();  // a file replaced meanwhile is no longer loaded
    std::vector<InputFile> rest;
    for (const InputFile& f : files) {
      if (finished.count(f.source_path)) continue;
      InputFile& r = rest.emplace_back(f);
      attach_known(r, loaded);
      const auto crash = crashed_on_.find(f.source_path);
      if (crash != crashed_on_.end() && crash->second.times >= 2 && r.open_error.empty())
        r.open_error =
            fmt::format("the {} process died twice while {} this file (last: {}); not tried again", crash->second.role,
                        crash->second.role == "reader" ? "reading" : "parsing", crash->second.how);
    }
    return rest;
  }

  // The files a stage process held when it died, from the raw pools' ownership records: a
  // reader's FILLING chunk (the file it was reading) or a parser's CLAIMED chunks (the file it
  // was parsing). A writer holds row batches, which name no file; what it had not committed
  // rolls back with its connection.
  std::vector<std::uint64_t> files_held_by(pid_t pid) const {
    std::vector<std::uint64_t> held;
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const ipc::ProcessSlot& slot = layout_->slot(s);
      if (slot.pid.load() != pid) continue;
      const ipc::OwnerId owner{static_cast<std::uint8_t>(s), static_cast<std::uint16_t>(slot.incarnation.load())};
      for (const ipc::ChunkPool& pool : raw_pools_)
        for (std::uint32_t i = 0; i < pool.chunk_count(); ++i) {
          const ipc::ChunkDescriptor& d = pool.descriptor(static_cast<std::uint16_t>(i));
          const std::uint64_t word = d.state.load(std::memory_order_acquire);
          const ipc::ChunkState state = ipc::ChunkDescriptor::state_of(word);
          if ((state == ipc::ChunkState::kFilling || state == ipc::ChunkState::kClaimed) &&
              ipc::ChunkDescriptor::owner_of(word) == owner.packed())
            held.push_back(d.tag & ~kReadErrorTag);
        }
    }
    return held;
  }

  // Refuses a /dev/shm smaller than the pools: container engines mount 64 MiB by default, where
  // the pools of one reader alone take 360 MiB (--max-file-size 256). Says what size to give.
  void check_shared_memory(std::uint64_t control_bytes, std::uint64_t raw_bytes, std::uint64_t batch_bytes) const {
    const std::uint64_t total = control_bytes + o_.readers * raw_bytes + o_.parsers * batch_bytes;
    const std::int64_t available = ipc::shm_bytes_available();
    if (available < 0 || static_cast<std::uint64_t>(available) >= total) return;
    // A quarter more than the pools, in whole 64 MiB: the room other runs or restarts may need.
    const std::uint64_t suggest = (total + total / 4 + (64 * kMiB) - 1) / (64 * kMiB) * 64;
    throw std::runtime_error(fmt::format(
        "/dev/shm has {} MiB free but the pools need {} MiB ({} reader{} x {} MiB, {} parser{} x {} MiB): lower "
        "--max-file-size or --readers, or enlarge /dev/shm (a container: --shm-size={}m; Kubernetes: a Memory "
        "emptyDir on /dev/shm with sizeLimit {}Mi)",
        available / static_cast<std::int64_t>(kMiB), total / kMiB, o_.readers, o_.readers == 1 ? "" : "s",
        raw_bytes / kMiB, o_.parsers, o_.parsers == 1 ? "" : "s", batch_bytes / kMiB, suggest, suggest));
  }

  // The same check before anything is recorded in the sink: the pools' sizes without the
  // manifest (the control segment is small next to them).
  void check_shared_memory_at_start() const {
    check_shared_memory(0, ipc::ChunkPool::bytes_for(raw_classes(o_.max_file_mib * kMiB)),
                        ipc::ChunkPool::bytes_for(batch_classes(o_.batch_kib * 1024, o_.writers)));
  }

  void launch_and_wait(const std::vector<InputFile>& files, const SinkUrl& sink_url) {
    const auto removed = ipc::remove_stale_segments();
    if (!removed.empty()) log::info("removed {} shared memory segments of dead runs", removed.size());

    const auto raw = raw_classes(o_.max_file_mib * kMiB);
    const auto batch = batch_classes(o_.batch_kib * 1024, o_.writers);
    PipelineShape shape;
    shape.readers = o_.readers;
    shape.parsers = o_.parsers;
    shape.writers = o_.writers;
    shape.raw_chunks_per_reader = chunk_total(raw);
    shape.batch_chunks_per_parser = chunk_total(batch);

    const std::uint64_t control_bytes = PipelineLayout::bytes_for(shape, files);
    const std::uint64_t raw_bytes = ipc::ChunkPool::bytes_for(raw);
    const std::uint64_t batch_bytes = ipc::ChunkPool::bytes_for(batch);
    const std::int64_t available = ipc::shm_bytes_available();
    check_shared_memory(control_bytes, raw_bytes, batch_bytes);

    std::random_device random;
    const std::string run_name = fmt::format("{}{:08x}", ipc::segment_prefix(), random());
    log::debug(
        "shared memory for {} files: control {:.1f} MiB, {} reader pools of {:.1f} MiB, {} parser pools of "
        "{:.1f} MiB ({:.0f} MiB free in /dev/shm)",
        files.size(), static_cast<double>(control_bytes) / kMiB, o_.readers, static_cast<double>(raw_bytes) / kMiB,
        o_.parsers, static_cast<double>(batch_bytes) / kMiB, static_cast<double>(available) / kMiB);
    RunSegments segments;
    auto& control = segments.create(PipelineLayout::control_name(run_name), control_bytes);
    // The one --max-file-size chunk (the last class) is faulted on first use: pre-faulting it
    // would cost every run ~256 MiB of zeroing for a file few runs meet.
    raw_pools_.clear();
    for (std::uint32_t r = 0; r < o_.readers; ++r) {
      auto& segment =
          segments.create(PipelineLayout::raw_pool_name(run_name, r), raw_bytes, ipc::SharedSegment::Populate::kNone);
      raw_pools_.push_back(
          ipc::ChunkPool::format(segment.base(), static_cast<std::uint16_t>(1 + r), raw, raw.size() > 1));
      segment.populate(raw_pools_.back().eager_bytes());
    }
    batch_pools_.clear();
    for (std::uint32_t p = 0; p < o_.parsers; ++p)
      batch_pools_.push_back(
          ipc::ChunkPool::format(segments.create(PipelineLayout::batch_pool_name(run_name, p), batch_bytes).base(),
                                 static_cast<std::uint16_t>(0x8000 + p), batch));
    layout_.emplace(PipelineLayout::format(control.base(), shape, files, run_name));
    ControlHeader& h = layout_->header();
    h.run_id = summary_.run_id;
    h.attempt = static_cast<std::uint32_t>(summary_.restarts.size()) + 1;
    h.batch_encoding = batch_encoding_for(sink_url);
    if (sink_url.text.size() >= sizeof h.sink) throw UsageError("--sink URL too long");
    std::memcpy(h.sink, sink_url.text.data(), sink_url.text.size());

    spawn_all();
    wait_all();
    collect_counters();
    for (std::size_t i = 0; i < files.size(); ++i) {
      const FileEntry& entry = layout_->file(i);
      if (entry.resolved != Dataset::kUnknown) resolved_[files[i].origin] = entry.resolved;
      // Each input's bytes count once, however many attempts (or the second pass) read it again.
      if (entry.content_hash != 0) read_bytes_[files[i].origin] = entry.size;
    }
    summary_.bytes = 0;
    for (const std::uint64_t n : read_bytes_) summary_.bytes += n;
    raw_pools_.clear();  // their segments go now
    batch_pools_.clear();
  }

  void spawn_all() {
    const pid_t me = ::getpid();
    summary_.stages.clear();  // the processes of this attempt
    const std::pair<Role, const char*> roles[] = {
        {Role::kReader, "reader"}, {Role::kParser, "parser"}, {Role::kWriter, "writer"}};
    for (const auto& [role, name] : roles) {
      StageProcesses group{role, {}, {}, {}, {}};
      const std::uint32_t count = role == Role::kReader ? o_.readers : role == Role::kParser ? o_.parsers : o_.writers;
      const std::string exe = stage_path(name);
      if (::access(exe.c_str(), X_OK) != 0) throw std::runtime_error("stage executable not found: " + exe);
      for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t slot = layout_->slot_of(role, i);
        // The attempt number: owner ids of a restarted run's processes never equal an earlier one's.
        layout_->slot(slot).incarnation.store(layout_->header().attempt);
        layout_->slot(slot).set_phase(ipc::ProcessPhase::kStarting);
        const std::string control = PipelineLayout::control_name(layout_->header().run_name);
        const std::string slot_text = std::to_string(slot);
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
        if (pid == 0) {
          // Child: die with the supervisor (its kill -9 must not leave orphans holding segments).
          ::prctl(PR_SET_PDEATHSIG, SIGKILL);
          if (::getppid() != me) ::_exit(1);
          sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
          ::execl(exe.c_str(), exe.c_str(), "--control", control.c_str(), "--slot", slot_text.c_str(), nullptr);
          ::_exit(127);
        }
        layout_->slot(slot).pid.store(pid);
        log::debug("started {} {} as pid {}", name, i, pid);
        group.pids.push_back(pid);
        live_.push_back(pid);
      }
      summary_.stages.push_back(std::move(group));
    }
  }

  void wait_all() {
    // Redrawn in place on a terminal; elsewhere (and as JSON lines) only with --progress always.
    const bool terminal = ::isatty(STDERR_FILENO) && log::settings().format == log::Format::kText;
    const bool show_progress =
        o_.progress == "always" || (o_.progress == "auto" && terminal && log::enabled(log::Level::kInfo));
    const auto interval = std::chrono::seconds(o_.progress_interval.value_or(terminal ? 1 : 10));
    ProgressMeter meter;
    std::uint64_t bytes_total = 0;
    for (std::uint64_t i = 0; i < layout_->header().file_count; ++i) bytes_total += layout_->file(i).size;
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    std::optional<Clock::time_point> kill_deadline;
    auto last_progress = Clock::now();
    while (!live_.empty()) {
      // A quarter-second tick: metrics files are rewritten at that pace (cheap: a few KB), the
      // progress line once an interval.
      timespec tick{0, 250'000'000};
      const int sig = sigtimedwait(&handled, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        if (interrupted_signal_ == 0) {
          interrupted_signal_ = sig;
          log::warning("stopping: finishing the files in flight (interrupt again to abort)");
          layout_->request_stop(StopMode::kDrain);
        } else {
          log::warning("aborting: uncommitted work is rolled back");
          abort_run();
          kill_deadline = Clock::now();
        }
      }
      reap(kill_deadline);
      if (o_.max_rejects && !failed_ && progress_sample(0).rejected > *o_.max_rejects) {
        failed_ = true;
        summary_.failure = fmt::format("more than {} files rejected (--max-rejects)", *o_.max_rejects);
        log::error("{}; stopping the run", summary_.failure);
        abort_run();
        kill_deadline = Clock::now() + std::chrono::seconds(5);
      }
      if (kill_deadline && Clock::now() >= *kill_deadline)
        for (pid_t p : live_) ::kill(p, SIGKILL);
      if (show_progress && !live_.empty() && Clock::now() - last_progress >= interval) {
        meter.add(progress_sample(bytes_total));
        print_progress(meter, terminal);
        last_progress = Clock::now();
      }
      if (!o_.metrics_file.empty()) write_metrics();
    }
    if (show_progress && terminal) fmt::print(stderr, "\r\033[K");
  }

  void abort_run() { layout_->request_stop(StopMode::kAbort); }

  void reap(std::optional<Clock::time_point>& kill_deadline) {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      std::erase(live_, pid);
      exit_ns_[pid] = now_ns();
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (ok) continue;
      mark_dead(pid);
      const std::string what = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                                   : fmt::format("exited with status {}", WEXITSTATUS(status));
      if (!failed_ && layout_->stop_mode() != StopMode::kAbort) {
        const std::string death = fmt::format("{} process {} {}", role_of(pid), pid, what);
        std::string held;
        for (std::uint64_t index : files_held_by(pid)) {
          const std::string source(layout_->source_path(layout_->file(index)));
          Crash& crash = crashed_on_[source];
          ++crash.times;
          crash.role = role_of(pid);
          crash.how = what;
          held += (held.empty() ? " while holding " : ", ") + source;
        }
        if (summary_.restarts.size() < o_.max_restarts && !interrupted_signal_ &&
            parse_sink_url(o_.sink).kind != SinkUrl::Kind::kNull) {
          summary_.restarts.push_back(death + held);
          restart_pending_ = true;
          log::warning("{}{}; stopping the other stages to restart (restart {} of at most {})", death, held,
                       summary_.restarts.size(), o_.max_restarts);
        } else {
          failed_ = true;
          summary_.failure = death + held;
          if (!summary_.restarts.empty())
            summary_.failure += fmt::format(", after {} restarts (--max-restarts)", summary_.restarts.size());
          log::error("{}; stopping the run", summary_.failure);
        }
        abort_run();
        // Stages see the abort within their wait timeout; force the stragglers after that.
        kill_deadline = Clock::now() + std::chrono::seconds(5);
      }
    }
  }

  // A killed process never wrote its end: its slot still says running. One that failed said so.
  void mark_dead(pid_t pid) {
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      ipc::ProcessSlot& slot = layout_->slot(s);
      const ipc::ProcessPhase phase = slot.current_phase();
      if (slot.pid.load() == pid && (phase == ipc::ProcessPhase::kStarting || phase == ipc::ProcessPhase::kRunning))
        slot.set_phase(ipc::ProcessPhase::kDead);
    }
  }

  std::string_view role_of(pid_t pid) const {
    for (const auto& s : summary_.stages)
      if (std::find(s.pids.begin(), s.pids.end(), pid) != s.pids.end()) return role_name(s.role);
    return "stage";
  }

  // What the progress line shows, from the stages' counters (progress.hpp).
  ProgressSample progress_sample(std::uint64_t bytes_total) const {
    ProgressSample p;
    p.seconds = std::chrono::duration<double>(Clock::now() - run_started_).count();
    p.files_total = layout_->header().file_count;
    p.bytes_total = bytes_total;
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const auto& slot = layout_->slot(s);
      p.files_done +=
          slot.get(counter::kFilesLoaded) + slot.get(counter::kFilesRejected) + slot.get(counter::kFilesSkipped);
      p.bytes_done += slot.get(counter::kBytesDone);
      p.bytes_read += slot.get(counter::kBytesRead);
      p.rejected += slot.get(counter::kFilesRejected);
      for (std::uint32_t k = 0; k < kTableCount; ++k) p.rows += slot.get(counter::kRowsFirst + k);
      const auto role = slot.role.load();
      if (role < 1 || role > 3) continue;
      ++p.processes[role - 1];
      p.waited_seconds[role - 1] +=
          static_cast<double>(slot.get(counter::kWaitInputNs) + slot.get(counter::kWaitOutputNs)) / 1e9;
    }
    return p;
  }

  static std::size_t terminal_width() {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && std::atoi(columns) > 0)
      return static_cast<std::size_t>(std::atoi(columns));
    return 80;
  }

  // On a terminal, one line redrawn in place, a column short of the width (a full line wraps on
  // some terminals); elsewhere a plain line, or a JSON line with the figures as members.
  static void print_progress(const ProgressMeter& meter, bool terminal) {
    if (terminal) {
      fmt::print(stderr, "\r\033[K{}", meter.line(terminal_width() - 1));
    } else if (log::settings().format == log::Format::kJson) {
      const ProgressSample& p = meter.latest();
      log::write(log::Level::kInfo, meter.line(SIZE_MAX),
                 fmt::format(R"("progress":{{"seconds":{:.1f},"files_done":{},"files_total":{},"bytes_done":{},)"
                             R"("bytes_total":{},"bytes_read":{},"rows":{},"rejected":{}}})",
                             p.seconds, p.files_done, p.files_total, p.bytes_done, p.bytes_total, p.bytes_read, p.rows,
                             p.rejected));
    } else {
      log::write(log::Level::kInfo, meter.line(SIZE_MAX));
    }
  }

  static std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
  }

  // Busy shares per stage, the bottleneck, and a ratio suggestion: the same number of processes
  // split in proportion to each stage's measured work (busy share x process count).
  static constexpr double kSecondsToJudge = 2;  // the shortest run whose busy shares give advice

  void analyse_stages() {
    std::uint64_t first = UINT64_MAX, last = 0;
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const auto& slot = layout_->slot(s);
      first = std::min(first, slot.get(counter::kStartNs));
      if (auto it = exit_ns_.find(slot.pid.load()); it != exit_ns_.end()) last = std::max(last, it->second);
    }
    if (first == 0 || last <= first) return;
    const double run_ns = static_cast<double>(last - first);
    std::map<std::string, std::pair<double, std::uint32_t>> sums;  // role -> (busy sum, processes)
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const auto& slot = layout_->slot(s);
      const auto it = exit_ns_.find(slot.pid.load());
      const std::uint64_t start = slot.get(counter::kStartNs);
      if (it == exit_ns_.end() || start == 0 || it->second < start) continue;
      const double waited = static_cast<double>(slot.get(counter::kWaitInputNs) + slot.get(counter::kWaitOutputNs));
      const double busy = std::max(0.0, static_cast<double>(it->second - start) - waited) / run_ns;
      const auto role = static_cast<Role>(slot.role.load());
      for (auto& group : summary_.stages) {
        const auto at = std::find(group.pids.begin(), group.pids.end(), slot.pid.load());
        if (group.role != role || at == group.pids.end()) continue;
        const auto i = static_cast<std::size_t>(at - group.pids.begin());
        for (auto* v : {&group.busy, &group.wait_input_s, &group.wait_output_s}) v->resize(group.pids.size());
        group.busy[i] = std::min(1.0, busy);
        group.wait_input_s[i] = static_cast<double>(slot.get(counter::kWaitInputNs)) / 1e9;
        group.wait_output_s[i] = static_cast<double>(slot.get(counter::kWaitOutputNs)) / 1e9;
      }
      auto& [sum, n] = sums[std::string(role_name(role))];
      sum += std::min(1.0, busy);
      ++n;
    }
    double best = -1, work_total = 0;
    std::uint32_t processes = 0;
    for (const auto& [role, v] : sums) {
      summary_.busy[role] = v.first / v.second;
      work_total += v.first;
      processes += v.second;
      if (summary_.busy[role] > best) {
        best = summary_.busy[role];
        summary_.bottleneck = role;
      }
    }
    // Below a couple of seconds, process start-up and the first and last files are most of the
    // run: its shares name a bottleneck, but advice from them would mislead.
    if (work_total <= 0 || run_ns < kSecondsToJudge * 1e9) return;
    std::map<std::string, std::uint32_t> now{{"reader", o_.readers}, {"parser", o_.parsers}, {"writer", o_.writers}};
    bool differs = false;
    std::string suggestion;
    for (const char* role : {"reader", "parser", "writer"}) {
      const double share = sums.count(role) ? sums[role].first / work_total : 0;
      const auto count = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(share * processes)));
      differs |= count != now[role];
      suggestion += fmt::format("{}--{}s {}", suggestion.empty() ? "" : " ", role, count);
    }
    if (summary_.bottleneck == "writer" && parse_sink_url(o_.sink).kind == SinkUrl::Kind::kSqlite) {
      // More writers do not help SQLite: it admits one writing transaction at a time.
      summary_.suggestion = "SQLite itself is the limit; a server database (--sink postgresql://...) loads in parallel";
      return;
    }
    if (differs) summary_.suggestion = suggestion;
  }

  // The Prometheus text exposition format, written to a temporary file and renamed so a
  // collector never reads half a file. Each family's HELP and TYPE come once, followed by all its
  // samples (the format's rule). While the stages run, the counters come from their
  // shared-memory slots; when the run ends, the file is written once more from the summary, with
  // edgarpipe_run_finished 1 and the processes' last figures.
  struct MetricTotals {
    std::uint64_t input_files = 0, loaded = 0, rejected = 0, skipped = 0, bytes = 0;
    std::uint64_t rows[kTableCount] = {};
  };

  void write_metrics() {
    const ControlHeader& h = layout_->header();
    auto sum = [&](std::uint32_t c) {
      std::uint64_t n = 0;
      for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) n += layout_->slot(s).get(c);
      return n;
    };
    // Earlier attempts of this run (restarts, the second pass) count too.
    MetricTotals t;
    t.input_files = summary_.files_seen;
    t.loaded = summary_.files_loaded + sum(counter::kFilesLoaded);
    t.rejected = summary_.files_rejected + sum(counter::kFilesRejected);
    t.skipped = summary_.files_skipped + sum(counter::kFilesSkipped);
    t.bytes = summary_.bytes + sum(counter::kBytesRead);
    for (std::uint32_t k = 0; k < kTableCount; ++k) t.rows[k] = summary_.rows[k] + sum(counter::kRowsFirst + k);

    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    struct Process {
      std::string labels;
      Role role;
      const ipc::ProcessSlot* slot;
    };
    std::vector<Process> processes;
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const auto& slot = layout_->slot(s);
      const auto role = static_cast<Role>(slot.role.load());
      processes.push_back(
          {fmt::format("stage=\"{}\",process=\"{}\"", role_name(role), slot.index.load()), role, &slot});
    }
    family("edgarpipe_stage_wait_seconds_total", "counter",
           "Time each stage process slept, waiting for input or for room downstream.");
    for (const Process& p : processes)
      for (const auto& [reason, c] :
           {std::pair{"input", counter::kWaitInputNs}, std::pair{"output", counter::kWaitOutputNs}})
        out += fmt::format("edgarpipe_stage_wait_seconds_total{{{},reason=\"{}\"}} {:.6f}\n", p.labels, reason,
                           static_cast<double>(p.slot->get(c)) / 1e9);
    // Per process: what went through it, so each stage's share of the run's totals shows.
    family("edgarpipe_stage_files_total", "counter",
           "Files through each process: read or skipped (reader), parsed (parser), committed (writer).");
    for (const Process& p : processes) {
      const std::uint64_t files =
          p.role == Role::kReader   ? p.slot->get(counter::kFilesRead) + p.slot->get(counter::kFilesSkipped)
          : p.role == Role::kParser ? p.slot->get(counter::kFilesParsed)
                                    : p.slot->get(counter::kFilesLoaded) + p.slot->get(counter::kFilesRejected);
      out += fmt::format("edgarpipe_stage_files_total{{{}}} {}\n", p.labels, files);
    }
    family("edgarpipe_stage_bytes_total", "counter", "Bytes of JSON read by each reader.");
    for (const Process& p : processes)
      if (p.role == Role::kReader)
        out += fmt::format("edgarpipe_stage_bytes_total{{{}}} {}\n", p.labels, p.slot->get(counter::kBytesRead));
    family("edgarpipe_stage_rows_total", "counter", "Rows committed by each writer.");
    for (const Process& p : processes) {
      if (p.role != Role::kWriter) continue;
      std::uint64_t rows = 0;
      for (std::uint32_t k = 0; k < kTableCount; ++k) rows += p.slot->get(counter::kRowsFirst + k);
      out += fmt::format("edgarpipe_stage_rows_total{{{}}} {}\n", p.labels, rows);
    }
    // Pool occupancy from the ownership records: chunks being filled, queued, or held by a
    // consumer (FREE and RETURNED ones are back with their producer).
    std::string capacity;
    family("edgarpipe_pool_chunks_in_use", "gauge", "Chunks of the shared-memory pools being filled, queued or held.");
    for (const auto& [handoff, pools] : {std::pair{"raw", &raw_pools_}, std::pair{"batch", &batch_pools_}}) {
      std::uint64_t total = 0, in_use = 0;
      for (const ipc::ChunkPool& pool : *pools)
        for (std::uint32_t i = 0; i < pool.chunk_count(); ++i, ++total) {
          const auto state = ipc::ChunkDescriptor::state_of(
              pool.descriptor(static_cast<std::uint16_t>(i)).state.load(std::memory_order_relaxed));
          in_use += state == ipc::ChunkState::kFilling || state == ipc::ChunkState::kPublished ||
                    state == ipc::ChunkState::kClaimed;
        }
      out += fmt::format("edgarpipe_pool_chunks_in_use{{handoff=\"{}\"}} {}\n", handoff, in_use);
      capacity += fmt::format("edgarpipe_pool_chunks_capacity{{handoff=\"{}\"}} {}\n", handoff, total);
    }
    family("edgarpipe_pool_chunks_capacity", "gauge", "Chunks of the shared-memory pools in all.");
    out += capacity;
    family("edgarpipe_ring_entries", "gauge", "Chunk handles waiting in rings, by hand-off.");
    std::uint64_t raw = 0, batch = 0;
    for (std::uint32_t r = 0; r < h.readers; ++r)
      for (std::uint32_t p = 0; p < h.parsers; ++p) raw += layout_->raw(r, p).size_approx();
    for (std::uint32_t p = 0; p < h.parsers; ++p)
      for (std::uint32_t w = 0; w < h.writers; ++w) batch += layout_->batch(p, w).size_approx();
    out += fmt::format("edgarpipe_ring_entries{{handoff=\"raw\"}} {}\nedgarpipe_ring_entries{{handoff=\"batch\"}} {}\n",
                       raw, batch);
    process_metrics_ = out;
    write_metrics_file(t, false);
  }

  // The last figures, once the run has ended: totals from the summary, the processes' last ones.
  void write_final_metrics() {
    MetricTotals t;
    t.input_files = summary_.files_seen;
    t.loaded = summary_.files_loaded;
    t.rejected = summary_.files_rejected;
    t.skipped = summary_.files_skipped;
    t.bytes = summary_.bytes;
    for (std::size_t k = 0; k < kTableCount; ++k) t.rows[k] = summary_.rows[k];
    write_metrics_file(t, true);
  }

  void write_metrics_file(const MetricTotals& t, bool finished) const {
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    family("edgarpipe_run_info", "gauge", "The run these metrics describe.");
    out +=
        fmt::format("edgarpipe_run_info{{run_id=\"{}\",sink=\"{}\"}} 1\n", summary_.run_id, prometheus_escape(o_.sink));
    family("edgarpipe_run_finished", "gauge", "1 once the run has ended (see edgarpipe_run_info and the summary).");
    out += fmt::format("edgarpipe_run_finished {}\n", finished ? 1 : 0);
    family("edgarpipe_metrics_written_timestamp_seconds", "gauge", "When this file was written (Unix time).");
    out += fmt::format("edgarpipe_metrics_written_timestamp_seconds {}\n", std::time(nullptr));
    family("edgarpipe_input_files", "gauge", "Input files of this run.");
    out += fmt::format("edgarpipe_input_files {}\n", t.input_files);
    family("edgarpipe_files_total", "counter", "Files finished, by outcome.");
    out += fmt::format("edgarpipe_files_total{{outcome=\"loaded\"}} {}\n", t.loaded);
    out += fmt::format("edgarpipe_files_total{{outcome=\"rejected\"}} {}\n", t.rejected);
    out += fmt::format("edgarpipe_files_total{{outcome=\"skipped\"}} {}\n", t.skipped);
    family("edgarpipe_bytes_read_total", "counter", "Bytes of JSON read by the readers.");
    out += fmt::format("edgarpipe_bytes_read_total {}\n", t.bytes);
    family("edgarpipe_rows_total", "counter", "Rows written, by table.");
    for (std::uint32_t k = 0; k < kTableCount; ++k)
      out +=
          fmt::format("edgarpipe_rows_total{{table=\"{}\"}} {}\n", table_def(static_cast<TableId>(k)).name, t.rows[k]);
    out += process_metrics_;
    const std::string tmp = o_.metrics_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << out;
      if (!f) return;  // a metrics file must never stop a load
    }
    std::rename(tmp.c_str(), o_.metrics_file.c_str());
  }

  static std::string prometheus_escape(std::string_view v) {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  }

  void collect_counters() {
    if (!o_.metrics_file.empty()) write_metrics();  // final values
    analyse_stages();
    attempt_skipped_ = 0;
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s)
      attempt_skipped_ += layout_->slot(s).get(counter::kFilesSkipped);
    for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
      const auto& slot = layout_->slot(s);
      summary_.files_loaded += slot.get(counter::kFilesLoaded);
      summary_.files_rejected += slot.get(counter::kFilesRejected);
      summary_.files_skipped += slot.get(counter::kFilesSkipped);
      files_changed_ += slot.get(counter::kFilesChanged);
      summary_.unknown_columns += slot.get(counter::kUnknownColumns);
      for (std::uint32_t k = 0; k < kTableCount; ++k) summary_.rows[k] += slot.get(counter::kRowsFirst + k);
    }
  }

  RunOptions o_;
  Clock::time_point run_started_ = Clock::now();
  std::optional<PipelineLayout> layout_;
  Summary summary_;
  std::vector<pid_t> live_;
  std::map<pid_t, std::uint64_t> exit_ns_;  // when each stage process was reaped
  sigset_t original_mask_{};
  bool failed_ = false;
  bool restart_pending_ = false;  // a stage died; the attempt is stopping to be restarted
  struct Crash {
    int times = 0;     // dead processes that held the file
    std::string role;  // of the last one
    std::string how;   // "killed by signal 11"
  };
  std::map<std::string, Crash> crashed_on_;  // by source path
  std::vector<ipc::ChunkPool> raw_pools_;    // views into this attempt's reader pools
  std::vector<ipc::ChunkPool> batch_pools_;  // and parser pools
  std::uint64_t attempt_skipped_ = 0;        // files skipped by the latest attempt
  int interrupted_signal_ = 0;
  std::uint64_t files_changed_ = 0;        // read although loaded before: they replaced their filers
  std::uint64_t dropped_rejected_ = 0;     // copies of a key with other content, left out of the stages
  std::vector<Dataset> resolved_;          // per input (InputFile::origin): the dataset the stages found
  std::vector<std::uint64_t> read_bytes_;  // per input: its size as read, once read
  std::string process_metrics_;            // the per-process families of the last metrics file
};

}  // namespace

int run_main(int argc, char** argv) { return Supervisor(parse_run_options(argc, argv)).run(); }

}  // namespace edgarpipe
