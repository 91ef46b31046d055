// The supervisor (`edgarpipe run`): one run from its inputs to its summary.
//
// A run: list the inputs and give each its key, ask the sink what is loaded already, record the
// run, then run attempts (attempt.hpp: segments, stage processes, waiting) until one ends
// without a stage dying or --max-restarts is spent; then the second pass over the files a
// replaced filer left unloaded, --prune, the secondary indexes, and the summary.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "attempt.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/identity.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/supervisor/progress.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"
#include "metrics.hpp"
#include "run_inputs.hpp"
#include "run_options.hpp"
#include "run_summary.hpp"
#include "stage_analysis.hpp"

namespace edgarpipe {

namespace {

using Clock = std::chrono::steady_clock;

// --prune would delete more than --max-prune-fraction allows: the run ends with exit 2.
struct PruneRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Supervisor {
 public:
  explicit Supervisor(RunOptions options) : o_(std::move(options)) {
    if (!o_.metrics_file.empty()) metrics_.emplace(o_.metrics_file, o_.sink);
  }

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
    InputList files = list_inputs(o_, state_.summary.files_duplicate, dropped_rejected_);

    if (sink_url.kind == SinkUrl::Kind::kSqlite && o_.writers > 1)
      log::warning(
          "warning: --writers {}: SQLite takes one writing transaction at a time, so more writers "
          "only take turns (and load slower); use one, or a server database",
          o_.writers);
    check_shared_memory_at_start(o_);
    auto admin = open_sink_admin(sink_url);
    for (const InputFile& f : files.files)
      if (const auto why = admin->refuse_source_path(files.source_path(f))) throw SinkError(*why);
    admin->set_storage(choose_storage(*admin, sink_url));
    admin->create_schema();
    if (o_.retry_rejected) keep_rejected_only(files, *admin);
    state_.resolved.assign(files.size(), Dataset::kUnknown);
    state_.read.assign(files.size(), false);
    state_.stamp_current.assign(files.size(), false);
    // What this run reads: every input, or (a rerun) a copy of the changed ones only, so a first
    // load does not list its inputs twice.
    InputList changed, first_pass;
    const InputList* to_read = &files;
    {
      const LoadedFiles loaded = admin->loaded_files();  // not kept: the stages hold what each input needs
      for (std::size_t i = 0; i < files.size(); ++i) {
        InputFile& f = files.files[i];
        f.origin = static_cast<std::uint32_t>(i);
        attach_known(f, loaded);
        f.reload = o_.force;
      }
      log::debug("{} inputs for this run; {} keys already loaded in {}", files.size(), loaded.size(), sink_url.text);
      if (o_.force) force_main_files_only(files);
      if (skip_unchanged(files, loaded, changed)) to_read = &changed;
      if (defer_pages_of_replaced_filers(*to_read, first_pass)) to_read = &first_pass;
    }
    if (const std::uint64_t dead = admin->interrupt_dead_runs())
      log::warning("{} earlier run{} died without finishing (a supervisor killed); marked interrupted", dead,
                   dead == 1 ? "" : "s");
    RunStart start;
    for (const auto& p : o_.paths) start.sources += (start.sources.empty() ? "" : " ") + p;
    start.sink = sink_url.text;
    start.readers = o_.readers;
    start.parsers = o_.parsers;
    start.writers = o_.writers;
    state_.summary.run_id = admin->begin_run(start);
    state_.summary.sink = sink_url.text;
    state_.summary.files_seen = files.size();

    try {
      // The stage analysis describes the main pass (a second pass is a few files). Nothing to
      // read (every input unchanged): no stages, no pools to fault in.
      const StageAnalysis main_pass =
          to_read->empty() ? StageAnalysis{} : launch_with_restarts(*admin, *to_read, sink_url);
      state_.summary.stages = main_pass.stages;
      state_.summary.busy = main_pass.busy;
      state_.summary.bottleneck = main_pass.bottleneck;
      state_.summary.suggestion = main_pass.suggestion;
      const auto going = [&] { return !state_.failed && !state_.interrupted_signal; };
      bool reloaded = going() && load_deferred_pages(*admin, files, sink_url);
      if (going() && state_.files_changed > 0 && reload_unloaded(*admin, files, sink_url)) reloaded = true;
      if (reloaded || !state_.summary.restarts.empty()) recount_files(*admin);
      if (!state_.failed && !state_.restamp.empty()) {
        admin->record_source_stamps(state_.restamp);
        log::debug("recorded the source stamps of {} files found unchanged by their content", state_.restamp.size());
      }
      if (o_.prune && !state_.failed && !state_.interrupted_signal) {
        try {
          prune_absent(*admin, files);
        } catch (const PruneRefused& e) {
          log::error("{}", e.what());
          prune_refused_ = true;
        }
      }
      admin->retire_stale_records(state_.summary.run_id);
      if (!state_.failed && !state_.interrupted_signal) retire_rejects_read_now(*admin, files);
      if (!state_.failed && !state_.interrupted_signal && !o_.no_indexes && sink_url.kind != SinkUrl::Kind::kNull)
        build_indexes(*admin);
    } catch (const std::exception& e) {
      state_.summary.failure = e.what();
      state_.failed = true;
    }
    // The copies of a key given with different content were rejected with the one that went
    // through the pipeline; the duplicates of a key were seen, and loaded once.
    state_.summary.files_rejected += dropped_rejected_;
    state_.summary.files_seen += state_.summary.files_duplicate + dropped_rejected_;
    state_.summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    state_.summary.status = state_.failed ? "failed" : state_.interrupted_signal ? "interrupted" : "completed";

    RunTotals totals;
    totals.status = state_.summary.status;
    totals.files_seen = state_.summary.files_seen;
    totals.files_loaded = state_.summary.files_loaded;
    totals.files_skipped = state_.summary.files_skipped;
    totals.files_rejected = state_.summary.files_rejected;
    totals.rows_written = state_.summary.rows_total();
    admin->finish_run(state_.summary.run_id, totals);

    if (metrics_) metrics_->finish(state_.summary);
    state_.summary.print_human();
    if (o_.summary_json == "-") {
      fmt::print("{}", state_.summary.json());
    } else if (!o_.summary_json.empty()) {
      std::ofstream out(o_.summary_json);
      out << state_.summary.json();
      if (!out) log::error("cannot write {}", o_.summary_json);
    }
    if (state_.failed) return 1;
    if (prune_refused_) return 2;
    if (state_.interrupted_signal) return 128 + state_.interrupted_signal;
    return state_.summary.files_rejected ? 3 : 0;
  }

 private:
  // A filer's overflow pages wait for its main file when that file is read and its key is loaded:
  // if the main file changed, it replaces the filer first, and the pages then load into a filer
  // with no old rows. Loaded in the same pass, a page could meet rows of the old main file (EDGAR
  // moves a filer's older filings from its main file into a new page routinely) and be refused.
  // When any page waits, puts the other inputs in `first` and returns true.
  bool defer_pages_of_replaced_filers(const InputList& reading, InputList& first) {
    std::set<std::int64_t> replacing;  // CIKs whose loaded main file is read in the first pass
    for (const InputFile& f : reading.files)
      if (f.key_page == 0 && f.key_cik >= 0 && f.error == 0 && f.hint != Dataset::kCompanyfacts)
        for (std::uint8_t k = 0; k < f.known_count; ++k)
          if (f.known_datasets[k] == Dataset::kSubmissions) replacing.insert(f.key_cik);
    state_.deferred.assign(state_.resolved.size(), false);
    std::size_t deferred = 0;
    for (const InputFile& f : reading.files)
      if (f.key_page > 0 && f.error == 0 && replacing.count(f.key_cik)) {
        state_.deferred[f.origin] = true;
        ++deferred;
      }
    if (deferred == 0) return false;
    first = reading.subset();
    first.files.reserve(reading.size() - deferred);
    for (const InputFile& f : reading.files)
      if (!state_.deferred[f.origin]) first.files.push_back(f);
    log::debug("{} overflow pages wait for their filers' main files (a second pass)", deferred);
    return true;
  }

  // The second pass of the pages defer_pages_of_replaced_filers held back, compared with what is
  // loaded now: a page whose filer its main file replaced is no longer 'loaded' and loads; one of
  // a filer whose main file was unchanged is skipped if it is too. Returns whether it ran.
  bool load_deferred_pages(SinkAdmin& admin, const InputList& files, const SinkUrl& sink_url) {
    if (std::find(state_.deferred.begin(), state_.deferred.end(), true) == state_.deferred.end()) return false;
    const LoadedFiles loaded_now = admin.loaded_files();
    InputList pages = files.subset();
    for (const InputFile& f : files.files) {
      if (!state_.deferred[f.origin]) continue;
      InputFile& p = pages.files.emplace_back(f);
      attach_known(p, loaded_now);
    }
    if (o_.force)
      log::info("--force: {} files replaced their filers; loading the filers' {} other files", state_.files_changed,
                pages.size());
    else
      log::info("loading the {} overflow pages of filers whose main files were read first", pages.size());
    launch_with_restarts(admin, pages, sink_url);
    return true;
  }

  // A changed file replaced its filer and took the 'loaded' mark off the filer's other files
  // (sink.hpp: replace_filer_sql): files the reader skipped as unchanged, and files loaded before
  // the replacement committed. They load in a second pass, as do files the database refused
  // because they met the filer's old rows (a new overflow page holding filings that the old main
  // file listed), so the run ends equal to a clean load of the snapshot. A crash before the
  // second pass costs nothing: the next run sees those files as not loaded. Returns whether it
  // ran: then the file counts of the summary must come from ingest_files (a file may have loaded,
  // or been refused, in the first pass and loaded again in the second); row counts add up both.
  bool reload_unloaded(SinkAdmin& admin, const InputList& files, const SinkUrl& sink_url) {
    const auto loaded_now = admin.loaded_files();
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
    InputList again = files.subset();
    for (const InputFile& f : files.files) {
      if (f.key_cik < 0 && rejected_paths.count(files.source_path(f))) continue;
      const FileKey key = key_of(f);
      if (loaded_now.count(key) || (rejected.count(key) && !refused.count(key))) continue;
      InputFile& a = again.files.emplace_back(f);
      a.known_count = 0;
      a.reload = false;
    }
    if (again.empty()) return false;

    if (o_.force)
      log::info("--force: {} files replaced their filers; loading the filers' {} other files", state_.files_changed,
                again.size());
    else
      log::info(
          "{} changed files replaced their filers; loading the {} unchanged files of those "
          "filers again",
          state_.files_changed, again.size());
    launch_with_restarts(admin, again, sink_url);  // its stage analysis is not the run's
    return true;
  }

  // After the first completed load of a fresh database: indexing once is faster than loading into
  // indexed tables. A failure leaves the load as it is (the next run tries again). On the whole
  // dataset this takes minutes: a watcher thread shows which index is building (the progress
  // line) and takes Ctrl-C/SIGTERM, which cancels the statement: the indexes built so far stay,
  // the next run builds the rest.
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
      admin.limit_index_memory(o_.index_memory_mib * kMiB);
      log::info("building the secondary indexes (sorting in at most {} MiB: --index-memory)", o_.index_memory_mib);
      std::vector<SinkAdmin::BuiltIndex> made;
      {
        IndexWatch watch(o_, admin, state_);
        try {
          made = admin.build_secondary_indexes(
              [&](std::string_view name, std::size_t i, std::size_t n) { watch.starting(name, i, n); });
        } catch (const std::exception& e) {
          state_.summary.index_seconds = std::chrono::duration<double>(Clock::now() - started).count();
          if (!watch.stopped()) throw;
          log::warning("index build stopped ({}); the indexes built so far stay, the next run builds the rest",
                       e.what());
          return;
        }
      }
      state_.summary.index_seconds = std::chrono::duration<double>(Clock::now() - started).count();
      state_.summary.indexes_built = made.size();
      if (made.empty()) return;
      std::string names;  // with each one's time: which index costs what on this data
      for (const auto& [name, seconds] : made)
        names += fmt::format("{}{} {:.1f} s", names.empty() ? "" : ", ", name, seconds);
      log::info("built {} secondary indexes in {:.1f} s: {}", made.size(), state_.summary.index_seconds, names);
    } catch (const std::exception& e) {
      log::warning("could not build the secondary indexes ({}); the next run tries again", e.what());
    }
  }

  // The index build's companion thread: the progress line (which index, how many left, how long)
  // and the signals, which the supervisor takes synchronously (blocked in every thread).
  class IndexWatch {
   public:
    IndexWatch(const RunOptions& o, SinkAdmin& admin, RunState& state)
        : admin_(admin), state_(state), thread_([this, &o] { watch(o); }) {
      // EDGARPIPE_TEST_FAULT=slow:index:<ms> (docs/HACKING.md): a pause before each index, for tests.
      const char* fault = std::getenv("EDGARPIPE_TEST_FAULT");
      if (fault != nullptr && std::string_view(fault).rfind("slow:index:", 0) == 0)
        test_delay_ = std::chrono::milliseconds(std::strtol(fault + 11, nullptr, 10));
    }
    ~IndexWatch() {
      done_ = true;
      thread_.join();
    }
    IndexWatch(const IndexWatch&) = delete;
    IndexWatch& operator=(const IndexWatch&) = delete;
    // Before each index: a stop taken between two statements ends the build here.
    void starting(std::string_view name, std::size_t i, std::size_t n) {
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        name_ = name;
        index_ = i;
        count_ = n;
        since_ = Clock::now();
      }
      std::this_thread::sleep_for(test_delay_);
      if (stopped_) throw std::runtime_error(fmt::format("interrupted before {}", name));
    }
    bool stopped() const { return stopped_; }

   private:
    void watch(const RunOptions& o) {
      const bool terminal = ::isatty(STDERR_FILENO) && log::settings().format == log::Format::kText;
      const bool show = o.progress == "always" || (o.progress == "auto" && terminal && log::enabled(log::Level::kInfo));
      const auto interval = std::chrono::seconds(o.progress_interval.value_or(terminal ? 1 : 10));
      const auto started = Clock::now();
      auto last = started;
      sigset_t handled;
      sigemptyset(&handled);
      sigaddset(&handled, SIGINT);
      sigaddset(&handled, SIGTERM);
      bool drawn = false;
      while (!done_) {
        timespec tick{0, 100'000'000};
        const int sig = sigtimedwait(&handled, nullptr, &tick);
        if ((sig == SIGINT || sig == SIGTERM) && !stopped_) {
          stopped_ = true;
          if (state_.interrupted_signal == 0) state_.interrupted_signal = sig;
          if (drawn) fmt::print(stderr, "\r\033[K");
          log::warning("stopping: cancelling the index build");
          admin_.cancel();
        }
        if (!show || Clock::now() - last < interval) continue;
        last = Clock::now();
        std::string line;
        {
          const std::lock_guard<std::mutex> lock(mutex_);
          if (count_ == 0) continue;
          line = fmt::format("{} building secondary index {} of {}: {} ({})",
                             format_elapsed(std::chrono::duration<double>(last - started).count()), index_ + 1, count_,
                             name_, format_elapsed(std::chrono::duration<double>(last - since_).count()));
        }
        if (terminal) {
          fmt::print(stderr, "\r\033[K{}", line);
          drawn = true;
        } else {
          log::info("{}", line);
        }
      }
      if (drawn) fmt::print(stderr, "\r\033[K");
    }

    SinkAdmin& admin_;
    RunState& state_;
    std::mutex mutex_;
    std::string name_;
    std::size_t index_ = 0, count_ = 0;
    Clock::time_point since_ = Clock::now();
    std::atomic<bool> done_{false}, stopped_{false};
    std::chrono::milliseconds test_delay_{0};
    std::thread thread_;  // last: starts once the members above exist
  };

  // The inputs whose key is loaded with the same source stamp (a zip member's CRC-32 and sizes, a
  // file's size and modification time) are unchanged since that load: skipped without being read,
  // so a nightly rerun over a snapshot reads only what changed. --verify (and --force) read and
  // hash every input instead. When any is unchanged, puts the inputs left to read in to_read and
  // returns true.
  bool skip_unchanged(const InputList& files, const LoadedFiles& loaded, InputList& to_read) {
    const auto unchanged_in = [&](const InputFile& f) {
      for (std::uint8_t k = 0; k < f.known_count && f.source_stamp != 0 && f.error == 0; ++k) {
        const auto it = loaded.find({f.known_datasets[k], f.key_cik, f.key_page});
        if (it != loaded.end() && it->second.stamp == f.source_stamp) return f.known_datasets[k];
      }
      return Dataset::kUnknown;
    };
    for (const InputFile& f : files.files) {
      const Dataset d = unchanged_in(f);
      if (d == Dataset::kUnknown) continue;
      state_.stamp_current[f.origin] = true;  // --verify: read, but its stamp needs no recording
      if (o_.verify || o_.force) continue;
      state_.resolved[f.origin] = d;
      ++state_.unchanged;
    }
    state_.summary.files_skipped = state_.unchanged;
    if (state_.unchanged == 0) return false;
    to_read = files.subset();
    to_read.files.reserve(files.size() - state_.unchanged);
    for (const InputFile& f : files.files)
      if (state_.resolved[f.origin] == Dataset::kUnknown) to_read.files.push_back(f);
    log::info(
        "{} of {} inputs are unchanged since they loaded (the same zip CRC-32 and sizes, or file size and "
        "modification time): skipped without reading them{}",
        state_.unchanged, files.size(), to_read.empty() ? "" : "; reading the others");
    return true;
  }

  // An input's key: the dataset it was found to be (by the stages), else its hint.
  FileKey key_of(const InputFile& f) const {
    const Dataset found = state_.resolved[f.origin];
    return {found != Dataset::kUnknown ? found : f.hint, f.key_cik, f.key_page};
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

  // A key-less reject of an earlier run (an unreadable folder, link or file, named by its path)
  // that this run read: the path is an input now read without error, or a folder with inputs
  // below it and no error of its own. Its documents loaded or were found unchanged, so the reject
  // no longer describes anything (`rejects` would list it forever).
  void retire_rejects_read_now(SinkAdmin& admin, const InputList& files) {
    std::set<std::string> stale;
    for (const IngestRecord& r : admin.ingest_records(std::nullopt))
      if (r.key.cik < 0 && r.run_id != state_.summary.run_id) stale.insert(r.source_path);
    if (stale.empty()) return;
    std::set<std::string> unreadable, read;
    for (const InputFile& f : files.files) {
      const std::string path = files.source_path(f);
      if (f.error != 0) {
        unreadable.insert(path);
        continue;
      }
      for (const std::string& candidate : stale)
        if (path == candidate ||
            (path.size() > candidate.size() && path.starts_with(candidate) && path[candidate.size()] == '/'))
          read.insert(candidate);
    }
    std::vector<std::string> retire;
    for (const std::string& path : read)
      if (!unreadable.count(path)) retire.push_back(path);
    if (retire.empty()) return;
    admin.retire_rejects_read_now(state_.summary.run_id, retire);
    log::info("{} input{} rejected by an earlier run as unreadable {} read now: {}", retire.size(),
              retire.size() == 1 ? "" : "s", retire.size() == 1 ? "was" : "were", fmt::join(retire, ", "));
  }

  // --prune: a filer is absent from the snapshot when none of the inputs is one of its files in a
  // dataset the inputs hold (a run over submissions alone never prunes companyfacts). Each
  // absent filer goes in its own transaction, so an interrupted prune leaves whole filers.
  // Guarded, as it runs unattended: not at all when an input could not be told to be a filer's
  // file (an unreadable folder may hold any filer), and not past --max-prune-fraction of a
  // dataset's loaded filers (a truncated snapshot looks like a shrink): refused before any delete.
  static constexpr std::size_t kPrunedNamed = 20;       // on the message line
  static constexpr std::size_t kPrunedListed = 100000;  // in the summary JSON
  void prune_absent(SinkAdmin& admin, const InputList& files) {
    std::set<Dataset> datasets;                       // held by the inputs
    std::set<std::pair<Dataset, std::int64_t>> keep;  // (dataset, cik) the inputs name
    std::vector<std::string> unattributed;            // inputs of no known filer and dataset
    for (const InputFile& f : files.files) {
      const FileKey key = key_of(f);
      if (key.dataset == Dataset::kUnknown || key.cik < 0) {
        if (unattributed.size() < 3) unattributed.push_back(files.source_path(f));
        continue;
      }
      datasets.insert(key.dataset);
      keep.emplace(key.dataset, key.cik);
    }
    if (!unattributed.empty()) {
      log::warning(
          "--prune not run: some inputs could not be read or told apart as a filer's file (e.g. {}); "
          "their filers may be in the snapshot (see edgarpipe rejects)",
          fmt::join(unattributed, ", "));
      return;
    }
    std::set<std::pair<Dataset, std::int64_t>> gone;
    std::map<Dataset, std::uint64_t> loaded, going;
    for (const auto& filer : admin.recorded_filers()) {
      if (!datasets.count(filer.first)) continue;
      ++loaded[filer.first];
      if (!keep.count(filer)) {
        gone.insert(filer);
        ++going[filer.first];
      }
    }
    for (const auto& [dataset, n] : going)
      if (static_cast<double>(n) > o_.max_prune_fraction * static_cast<double>(loaded[dataset]))
        throw PruneRefused(
            fmt::format("--prune refused: it would delete {} of the {} {} filers loaded ({:.1f}%), more than "
                        "--max-prune-fraction {} allows; a snapshot that shrank this much is more likely cut short. "
                        "Nothing was deleted; rerun with --max-prune-fraction 1 if the shrink is real",
                        n, loaded[dataset], dataset_name(dataset),
                        100.0 * static_cast<double>(n) / static_cast<double>(loaded[dataset]), o_.max_prune_fraction));
    std::string named;
    for (const auto& [dataset, cik] : gone) {
      admin.delete_filer(dataset, cik);
      if (state_.summary.pruned.size() < kPrunedListed) state_.summary.pruned.emplace_back(dataset, cik);
      if (state_.summary.pruned.size() <= kPrunedNamed)
        named += fmt::format("{}{} CIK {}", named.empty() ? "" : ", ", dataset_name(dataset), cik);
    }
    state_.summary.filers_pruned = gone.size();
    if (gone.size() > kPrunedNamed)
      named += fmt::format(" and {} more (--summary-json lists {})", gone.size() - kPrunedNamed,
                           gone.size() > kPrunedListed ? fmt::format("the first {}", kPrunedListed) : "them all");
    log::info("--prune: {} filers no input names any more were deleted{}{}", gone.size(), named.empty() ? "" : ": ",
              named);
  }

  // File counts from what the sink holds for this run, when the stage counters could count a
  // file twice (read in one pass or attempt, then again in the next).
  void recount_files(SinkAdmin& admin) {
    const SinkAdmin::RunFileCounts counts = admin.run_file_counts(state_.summary.run_id);
    state_.summary.files_loaded = counts.loaded;
    state_.summary.files_rejected = counts.rejected;
    // A completed run finished or skipped every file. A stopped one skipped what its last attempt
    // skipped: every attempt reads the files skipped before again (they are never finished).
    state_.summary.files_skipped =
        state_.failed || state_.interrupted_signal
            ? state_.unchanged + state_.attempt_skipped
            : state_.summary.files_seen -
                  std::min(state_.summary.files_seen, state_.summary.files_loaded + state_.summary.files_rejected);
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
  // Returns the stage analysis of the last attempt.
  StageAnalysis launch_with_restarts(SinkAdmin& admin, const InputList& all, const SinkUrl& sink_url) {
    std::optional<InputList> rest;  // after a restart: the files not finished yet
    for (;;) {
      const InputList& files = rest ? *rest : all;
      StageAttempt attempt(o_, state_, metrics_ ? &*metrics_ : nullptr, original_mask_, run_started_);
      StageAttempt::Outcome outcome = attempt.run(files, sink_url);
      if (!outcome.restart) return std::move(outcome.analysis);
      rest = unfinished(admin, files);
      log::info("restarting the stages over the {} unfinished files", rest->size());
    }
  }

  InputList unfinished(SinkAdmin& admin, const InputList& files) const {
    std::set<std::string> finished;  // by path: a run holds each key once (resolve_identities)
    for (const IngestRecord& r : admin.ingest_records(state_.summary.run_id)) finished.insert(r.source_path);
    const auto loaded = admin.loaded_files();  // a file replaced meanwhile is no longer loaded
    InputList rest = files.subset();
    for (const InputFile& f : files.files) {
      const std::string source_path = files.source_path(f);
      if (finished.count(source_path)) continue;
      InputFile& r = rest.files.emplace_back(f);
      attach_known(r, loaded);
      const auto crash = state_.crashed_on.find(source_path);
      if (crash != state_.crashed_on.end() && crash->second.times >= 2 && r.error == 0)
        rest.set_open_error(r, fmt::format("the {} process died twice while {} this file (last: {}); not tried again",
                                           crash->second.role, crash->second.role == "reader" ? "reading" : "parsing",
                                           crash->second.how));
    }
    return rest;
  }

  RunOptions o_;
  Clock::time_point run_started_ = Clock::now();
  RunState state_;
  std::optional<MetricsFile> metrics_;  // --metrics-file
  sigset_t original_mask_{};
  std::uint64_t dropped_rejected_ = 0;  // copies of a key with other content, left out of the stages
  bool prune_refused_ = false;          // --max-prune-fraction stopped --prune: exit 2
};

}  // namespace

int run_main(int argc, char** argv) {
  // Listing ~10^6 inputs frees temporaries of tens of MB (sorted hashes, keys). glibc raises its
  // mmap threshold as large blocks are freed, so later ones come from the heap and stay resident
  // after they are freed; a fixed threshold keeps every large block an mmap, given back on free.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  return Supervisor(parse_run_options(argc, argv)).run();
}

}  // namespace edgarpipe
