// `edgarpipe tune`: finds the stage ratio for this machine and sink by short trial runs.
//
// Each trial is a real `edgarpipe run` (a child process) over the same bounded sample of the
// inputs: one shard (--shard 0/K, whole filers) whose size is about --sample-mb. Trials load into
// a scratch target, never the real one: a scratch SQLite file beside the target database (same
// filesystem, so the same disk), or a scratch schema in the target PostgreSQL database (schema=,
// the sink option), dropped after each trial; or a target the
// operator names with --scratch-sink (required for SQL Server). The search starts from the
// default ratio, then follows each trial's own verdict: the ratio the summary suggests (work
// split in proportion to each stage's measured busy time), then one more process for the
// bottleneck stage, then one moved from the idlest stage to the bottleneck; it stops after
// --trials trials or when no untried neighbour remains.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "edgarpipe/cli/commands.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

namespace {

constexpr const char* kTuneUsage = R"(usage: edgarpipe tune PATH... [--sink URL] [options]

Runs short trial loads over a sample of PATH with different --readers/--parsers/--writers,
prints a table of the trials and recommends the fastest ratio. The target named by --sink is
never written: trials load into a scratch SQLite file beside it, a scratch schema in its
PostgreSQL database, or the target given by --scratch-sink (required for SQL Server).
Trials never give a stage more processes than there are CPUs, nor SQLite a second writer: the
ratios `run` itself would not advise.

options:
  --sink URL            the target the ratio is for (default sqlite:edgar.db)
  --scratch-sink URL    where trials load (emptied before each trial; never the target)
  --sample-mb N         size of the sample, in MB of JSON (default 200)
  --trials N            at most N trials (default 6)
  --max-processes N     at most N stage processes per trial (default: twice the CPUs, at least 6)
  --write FILE          write the recommendation as an options file for `edgarpipe run --options FILE`
  --dataset D, --max-file-size MiB   passed to every trial run

example: edgarpipe tune /data/sec/submissions.zip --sink postgresql://loader@db/edgar --write ratio.opts
)";

struct Ratio {
  std::uint32_t readers = 1, parsers = 2, writers = 1;
  std::uint32_t total() const { return readers + parsers + writers; }
  auto key() const { return std::tie(readers, parsers, writers); }
  bool operator<(const Ratio& o) const { return key() < o.key(); }
  bool operator==(const Ratio& o) const { return key() == o.key(); }
  std::string flags() const { return fmt::format("--readers {} --parsers {} --writers {}", readers, parsers, writers); }
};

struct Trial {
  Ratio ratio;
  int exit_code = -1;
  double seconds = 0, mb = 0, files = 0, rows = 0;
  std::map<std::string, double> busy;
  std::string bottleneck;
  std::optional<Ratio> suggested;
  double mb_per_s() const { return seconds > 0 ? mb / seconds : 0; }
};

struct TuneOptions {
  std::vector<std::string> paths;
  std::string sink = "sqlite:edgar.db";
  std::string scratch_sink;
  std::uint64_t sample_mb = 200;
  std::uint32_t trials = 6;
  std::uint32_t max_processes = std::max(6u, 2 * std::thread::hardware_concurrency());
  std::string write;
  std::vector<std::string> passthrough;  // options every trial run gets
};

TuneOptions parse_tune_options(int argc, char** argv) {
  TuneOptions o;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--sink")
      o.sink = value();
    else if (arg == "--scratch-sink")
      o.scratch_sink = value();
    else if (arg == "--sample-mb")
      o.sample_mb = parse_count(arg, value(), 1'000'000);
    else if (arg == "--trials")
      o.trials = parse_count(arg, value(), 50);
    else if (arg == "--max-processes")
      o.max_processes = std::max(3u, parse_count(arg, value(), 250));
    else if (arg == "--write")
      o.write = value();
    else if (arg == "--dataset" || arg == "--max-file-size") {
      o.passthrough.emplace_back(arg);
      o.passthrough.push_back(value());
    } else if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kTuneUsage);
      std::exit(0);
    } else if (arg.size() > 1 && arg[0] == '-')
      throw UsageError(fmt::format("unknown tune option {}", arg));
    else
      o.paths.emplace_back(arg);
  }
  if (o.paths.empty()) throw UsageError("tune needs at least one PATH");
  return o;
}

// Where trials load. Each trial gets it empty: `reset` drops what the previous trial left.
class Scratch {
 public:
  Scratch(const TuneOptions& o, const SinkUrl& target) {
    std::random_device random;
    tag_ = fmt::format("edgarpipe_tune_{}_{:06x}", ::getpid(), random() & 0xFFFFFF);
    if (!o.scratch_sink.empty()) {
      url_ = o.scratch_sink;
      if (parse_sink_url(url_).text == target.text) throw UsageError("--scratch-sink must not be the --sink target");
      named_ = true;
      return;
    }
    switch (target.kind) {
      case SinkUrl::Kind::kSqlite: {
        const std::filesystem::path db(target.target);
        sqlite_path_ = (db.has_parent_path() ? db.parent_path() : std::filesystem::path(".")) / (tag_ + ".db");
        url_ = "sqlite:" + sqlite_path_.string();
        break;
      }
      case SinkUrl::Kind::kPostgres:
        // The trial's tables go to a schema of their own (schema=, created by each trial run).
        url_ = with_schema(target.text, tag_);
        pg_admin_ = open_sink_admin(target);
        break;
      case SinkUrl::Kind::kNull:
        url_ = "null:";
        break;
      case SinkUrl::Kind::kMssql:
        throw UsageError("tune with SQL Server needs --scratch-sink mssql://... (a scratch database)");
    }
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    try {
      drop();
    } catch (const std::exception& e) {
      log::warning("could not remove the scratch target {}: {}", url_, e.what());
    }
  }

  const std::string& url() const { return url_; }

  void reset() {
    drop();
    if (named_) {
      // A scratch target the operator named: empty every table of the contract in it.
      auto admin = open_sink_admin(parse_sink_url(url_));
      admin->create_schema();
      admin->empty_all_tables();
    }
  }

 private:
  void drop() {
    if (!sqlite_path_.empty())
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(sqlite_path_.string() + suffix);
    if (pg_admin_) pg_admin_->drop_schema(tag_);
  }

  std::string tag_, url_;
  std::filesystem::path sqlite_path_;
  std::unique_ptr<SinkAdmin> pg_admin_;
  bool named_ = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<Ratio> parse_suggestion(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("--readers (\\d+) --parsers (\\d+) --writers (\\d+)")))
    return std::nullopt;
  return Ratio{static_cast<std::uint32_t>(std::stoul(m[1])), static_cast<std::uint32_t>(std::stoul(m[2])),
               static_cast<std::uint32_t>(std::stoul(m[3]))};
}

std::string self_exe() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "edgarpipe" : self.string();
}

class Tuner {
 public:
  explicit Tuner(TuneOptions o) : o_(std::move(o)), target_(parse_sink_url(o_.sink)), scratch_(o_, target_) {}

  int run() {
    choose_sample();
    std::vector<Ratio> queue{Ratio{}};
    std::set<Ratio> tried;
    while (!queue.empty() && trials_.size() < o_.trials) {
      const Ratio ratio = queue.front();
      queue.erase(queue.begin());
      if (tried.count(ratio) || !worth_trying(ratio)) continue;
      tried.insert(ratio);
      const Trial t = run_trial(ratio);
      trials_.push_back(t);
      print_trial(t);
      if (t.exit_code != 0 && t.exit_code != 3) {
        log::error("the trial run failed (exit {}); stopping", t.exit_code);
        break;
      }
      // The next candidates, most promising first: the trial's own suggestion, then one more
      // process for its bottleneck, then one moved to the bottleneck from the idlest stage, then
      // one fewer of the idlest stage (its CPU left to the bottleneck: on a small box, or when
      // the bottleneck cannot grow, as SQLite's one writer), then one more for each other stage,
      // busiest first (the bottleneck may be at its cores already). worth_trying drops the rest.
      std::vector<Ratio> next;
      if (t.suggested) next.push_back(*t.suggested);
      if (!t.bottleneck.empty()) {
        Ratio more = ratio;
        field(more, t.bottleneck) += 1;
        next.push_back(more);
        const std::string idlest = idlest_stage(t);
        if (!idlest.empty() && idlest != t.bottleneck && field(ratio, idlest) > 1) {
          Ratio moved = ratio;
          field(moved, t.bottleneck) += 1;
          field(moved, idlest) -= 1;
          next.push_back(moved);
        }
        std::string spare;  // the least busy stage with a process to give
        for (const auto& [role, busy] : t.busy)
          if (role != t.bottleneck && field(ratio, role) > 1 && (spare.empty() || busy < t.busy.at(spare)))
            spare = role;
        if (!spare.empty()) {
          Ratio fewer = ratio;
          field(fewer, spare) -= 1;
          next.push_back(fewer);
        }
        std::vector<std::pair<double, std::string>> by_busy;
        for (const auto& [role, busy] : t.busy)
          if (role != t.bottleneck) by_busy.emplace_back(busy, role);
        std::sort(by_busy.rbegin(), by_busy.rend());
        for (const auto& [busy, role] : by_busy) {
          Ratio grown = ratio;
          field(grown, role) += 1;
          next.push_back(grown);
        }
      }
      queue.insert(queue.begin(), next.begin(), next.end());
    }
    return report();
  }

 private:
  // The ratios `run` would not advise: a stage with no process or more than the cores (they
  // cannot all be busy), a second SQLite writer (SQLite takes one writing transaction at a time).
  bool worth_trying(const Ratio& r) const {
    const std::uint32_t cores = std::max(1U, std::thread::hardware_concurrency());
    const std::uint32_t most_writers = target_.kind == SinkUrl::Kind::kSqlite ? 1 : cores;
    return r.total() <= o_.max_processes && r.readers >= 1 && r.parsers >= 1 && r.writers >= 1 && r.readers <= cores &&
           r.parsers <= cores && r.writers <= most_writers;
  }

  static std::uint32_t& field(Ratio& r, const std::string& role) {
    return role == "reader" ? r.readers : role == "parser" ? r.parsers : r.writers;
  }
  static std::uint32_t field(const Ratio& r, const std::string& role) {
    return role == "reader" ? r.readers : role == "parser" ? r.parsers : r.writers;
  }
  static std::string idlest_stage(const Trial& t) {
    std::string idlest;
    for (const auto& [role, busy] : t.busy)
      if (idlest.empty() || busy < t.busy.at(idlest)) idlest = role;
    return idlest;
  }

  // One shard of about --sample-mb: shards group whole filers, so the sample is shaped like the
  // input (main files with their overflow pages).
  void choose_sample() {
    InputOptions options;
    std::uint64_t bytes = 0;
    const auto files = enumerate_inputs(o_.paths, options);
    for (const auto& f : files.files) bytes += f.size;
    if (files.empty()) throw std::runtime_error("tune: no input files under the given paths");
    shards_ = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(bytes / (o_.sample_mb * 1'000'000), 1, 100000));
    log::info("{} files, {:.0f} MB; each trial loads shard 0/{} (about {:.0f} MB) into {}", files.size(),
              static_cast<double>(bytes) / 1e6, shards_,
              static_cast<double>(bytes) / 1e6 / static_cast<double>(shards_), scratch_.url());
  }

  Trial run_trial(const Ratio& ratio) {
    scratch_.reset();
    const std::string summary =
        fmt::format("{}/edgarpipe-tune-{}.json", std::filesystem::temp_directory_path().string(), ::getpid());
    std::vector<std::string> args{self_exe(), "run"};
    args.insert(args.end(), o_.paths.begin(), o_.paths.end());
    for (const std::string& a :
         {std::string("--sink"), scratch_.url(), std::string("--shard"), fmt::format("0/{}", shards_),
          std::string("--readers"), std::to_string(ratio.readers), std::string("--parsers"),
          std::to_string(ratio.parsers), std::string("--writers"), std::to_string(ratio.writers),
          std::string("--progress"), std::string("never"), std::string("--summary-json"), summary})
      args.push_back(a);
    args.insert(args.end(), o_.passthrough.begin(), o_.passthrough.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // The trial's own output goes to /dev/null: the table below is the report.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    Trial t;
    t.ratio = ratio;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error(fmt::format("tune: cannot start {}: {}", argv[0], std::strerror(rc)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const std::string text = read_text(summary);
    std::filesystem::remove(summary);
    // A trial that failed before its summary leaves none: the exit code says what happened.
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return t;
    t.seconds = json.value("seconds", 0.0);
    t.mb = json.value("bytes", 0.0) / 1e6;
    t.files = json.value("files_loaded", 0.0) + json.value("files_rejected", 0.0);
    t.rows = json.value("rows_total", 0.0);
    if (const auto busy = json.find("stage_busy"); busy != json.end() && busy->is_object())
      for (const auto& [role, fraction] : busy->items())
        if (fraction.is_number()) t.busy[role] = fraction.get<double>();
    t.bottleneck = json.value("bottleneck", std::string());
    t.suggested = parse_suggestion(json.value("suggestion", std::string()));
    return t;
  }

  void print_trial(const Trial& t) const {
    if (trials_.size() == 1)
      fmt::print("{:>5}  {:>7} {:>7} {:>7}  {:>8}  {:>8}  {:>9}  {:>10}  {:>22}  {}\n", "trial", "readers", "parsers",
                 "writers", "seconds", "MB/s", "files/s", "rows/s", "busy r/p/w %", "bottleneck");
    const auto busy = [&](const char* role) {
      return t.busy.count(role) ? fmt::format("{:.0f}", 100 * t.busy.at(role)) : std::string("-");
    };
    fmt::print(
        "{:>5}  {:>7} {:>7} {:>7}  {:>8.2f}  {:>8.1f}  {:>9.0f}  {:>10.0f}  {:>22}  {}\n", trials_.size(),
        t.ratio.readers, t.ratio.parsers, t.ratio.writers, t.seconds, t.mb_per_s(),
        t.seconds > 0 ? t.files / t.seconds : 0, t.seconds > 0 ? t.rows / t.seconds : 0,
        fmt::format("{}/{}/{}", busy("reader"), busy("parser"), busy("writer")),
        t.exit_code == 0 || t.exit_code == 3 ? t.bottleneck + "s" : fmt::format("failed (exit {})", t.exit_code));
    std::fflush(stdout);
  }

  int report() const {
    const Trial* best = nullptr;
    for (const Trial& t : trials_)
      if ((t.exit_code == 0 || t.exit_code == 3) && (!best || t.mb_per_s() > best->mb_per_s())) best = &t;
    if (!best) {
      log::error("no trial completed");
      return 1;
    }
    const double first = trials_.front().mb_per_s();
    fmt::print("\nrecommended for {}: {}  ({:.1f} MB/s, {:.2f}x the first trial)\n", target_.text, best->ratio.flags(),
               best->mb_per_s(), first > 0 ? best->mb_per_s() / first : 0);
    if (!o_.write.empty()) {
      std::ofstream out(o_.write);
      out << fmt::format(
          "# edgarpipe tune: {} trials over {} (shard 0/{}), best {:.1f} MB/s\n"
          "# use: edgarpipe run PATH... --options {}\n"
          "--readers {}\n--parsers {}\n--writers {}\n",
          trials_.size(), target_.text, shards_, best->mb_per_s(), o_.write, best->ratio.readers, best->ratio.parsers,
          best->ratio.writers);
      if (!out) throw std::runtime_error("tune: cannot write " + o_.write);
      fmt::print("written to {} (edgarpipe run ... --options {})\n", o_.write, o_.write);
    }
    return 0;
  }

  TuneOptions o_;
  SinkUrl target_;
  Scratch scratch_;
  std::uint32_t shards_ = 1;
  std::vector<Trial> trials_;
};

}  // namespace

int tune_main(int argc, char** argv) {
  log::set_program("edgarpipe tune");
  try {
    return Tuner(parse_tune_options(argc, argv)).run();
  } catch (const UsageError& e) {
    log::error("{} (edgarpipe tune --help for its options)", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
}

}  // namespace edgarpipe
