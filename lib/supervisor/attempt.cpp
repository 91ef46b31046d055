#include "attempt.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <random>

#include "edgarpipe/core/log.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "progress_output.hpp"

namespace edgarpipe {

namespace {

using Clock = StageAttempt::Clock;

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

}  // namespace

void check_shared_memory(const RunOptions& o, std::uint64_t control_bytes, std::uint64_t raw_bytes,
                         std::uint64_t batch_bytes) {
  const std::uint64_t total = control_bytes + o.readers * raw_bytes + o.parsers * batch_bytes;
  const std::int64_t available = ipc::shm_bytes_available();
  if (available < 0 || static_cast<std::uint64_t>(available) >= total) return;
  // A quarter more than the pools, in whole 64 MiB: the room other runs or restarts may need.
  const std::uint64_t suggest = (total + total / 4 + (64 * kMiB) - 1) / (64 * kMiB) * 64;
  throw std::runtime_error(fmt::format(
      "/dev/shm has {} MiB free but the pools need {} MiB ({} reader{} x {} MiB, {} parser{} x {} MiB): lower "
      "--max-file-size or --readers, or enlarge /dev/shm (a container: --shm-size={}m; Kubernetes: a Memory "
      "emptyDir on /dev/shm with sizeLimit {}Mi)",
      available / static_cast<std::int64_t>(kMiB), total / kMiB, o.readers, o.readers == 1 ? "" : "s", raw_bytes / kMiB,
      o.parsers, o.parsers == 1 ? "" : "s", batch_bytes / kMiB, suggest, suggest));
}

void check_shared_memory_at_start(const RunOptions& o) {
  check_shared_memory(o, 0, ipc::ChunkPool::bytes_for(raw_classes(o.max_file_mib * kMiB)),
                      ipc::ChunkPool::bytes_for(batch_classes(o.batch_kib * 1024, o.writers)));
}

StageAttempt::Outcome StageAttempt::run(const InputList& files, const SinkUrl& sink_url) {
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
  check_shared_memory(o_, control_bytes, raw_bytes, batch_bytes);

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
  h.run_id = state_.summary.run_id;
  h.attempt = static_cast<std::uint32_t>(state_.summary.restarts.size()) + 1;
  h.batch_encoding = batch_encoding_for(sink_url);
  if (sink_url.text.size() >= sizeof h.sink) throw UsageError("--sink URL too long");
  std::memcpy(h.sink, sink_url.text.data(), sink_url.text.size());

  ChildGroup children;  // declared after the segments: its processes are gone before they are
  spawn_all(children);
  Outcome attempt;
  attempt.restart = wait_all(children);
  if (metrics_) metrics_->update(*layout_, raw_pools_, batch_pools_, state_.summary);  // final values
  attempt.analysis = analyse_stages(*layout_, stages_, exit_ns_, o_);
  collect_counters();
  for (std::size_t i = 0; i < files.size(); ++i) {
    const FileEntry& entry = layout_->file(i);
    const std::uint32_t origin = files.files[i].origin;
    if (entry.resolved != Dataset::kUnknown) state_.resolved[origin] = entry.resolved;
    // Each input's bytes count once, however many attempts (or the second pass) read it again.
    if (entry.content_hash != 0 && !state_.read[origin]) {
      state_.read[origin] = true;
      state_.summary.bytes += entry.size;
      // Skipped by the reader as loaded (its hash is a known one), though its source stamp did not say so.
      bool same = false;
      for (std::uint8_t k = 0; k < entry.known_count && !entry.reload; ++k)
        same = same || (entry.known_hashes[k] == entry.content_hash && entry.known_datasets[k] == entry.resolved);
      if (same && entry.key_cik >= 0 && entry.source_stamp != 0 && !state_.stamp_current[origin])
        state_.restamp.push_back({{entry.resolved, entry.key_cik, entry.key_page}, entry.source_stamp});
    }
  }
  raw_pools_.clear();  // their segments go now
  batch_pools_.clear();
  return attempt;
}

void StageAttempt::spawn_all(ChildGroup& children) {
  stages_.clear();
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
      const pid_t pid = children.spawn(exe, {"--control", control, "--slot", slot_text}, original_mask_);
      layout_->slot(slot).pid.store(pid);
      log::debug("started {} {} as pid {}", name, i, pid);
      group.pids.push_back(pid);
    }
    stages_.push_back(std::move(group));
  }
}

// Waits until every stage process has exited. Returns whether one died and asked for a restart.
bool StageAttempt::wait_all(ChildGroup& children) {
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
  bool restart = false;
  auto last_progress = Clock::now();
  while (!children.empty()) {
    // A quarter-second tick: metrics files are rewritten at that pace (cheap: a few KB), the
    // progress line once an interval.
    timespec tick{0, 250'000'000};
    const int sig = sigtimedwait(&handled, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      if (state_.interrupted_signal == 0) {
        state_.interrupted_signal = sig;
        log::warning("stopping: finishing the files in flight (interrupt again to abort)");
        layout_->request_stop(StopMode::kDrain);
      } else {
        log::warning("aborting: uncommitted work is rolled back");
        abort_run();
        kill_deadline = Clock::now();
      }
    }
    for (const ChildGroup::Exit& exit : children.reap()) restart |= on_exit(exit, kill_deadline);
    if (o_.max_rejects && !state_.failed &&
        progress_sample(*layout_, seconds_since_start(), 0).rejected > *o_.max_rejects) {
      state_.failed = true;
      state_.summary.failure = fmt::format("more than {} files rejected (--max-rejects)", *o_.max_rejects);
      log::error("{}; stopping the run", state_.summary.failure);
      abort_run();
      kill_deadline = Clock::now() + std::chrono::seconds(5);
    }
    if (kill_deadline && Clock::now() >= *kill_deadline) children.kill_all(SIGKILL);
    if (show_progress && !children.empty() && Clock::now() - last_progress >= interval) {
      meter.add(progress_sample(*layout_, seconds_since_start(), bytes_total));
      print_progress(meter, terminal);
      last_progress = Clock::now();
    }
    if (metrics_) metrics_->update(*layout_, raw_pools_, batch_pools_, state_.summary);
  }
  if (show_progress && terminal) fmt::print(stderr, "\r\033[K");
  return restart;
}

// A stage process exited. A death stops the attempt: for a restart (returns true) while
// --max-restarts allows, else the run fails.
bool StageAttempt::on_exit(const ChildGroup::Exit& exit, std::optional<Clock::time_point>& kill_deadline) {
  const pid_t pid = exit.pid;
  exit_ns_[pid] = exit.at_ns;
  if (exit.ok()) return false;
  mark_dead(pid);
  const std::string what = exit.how();
  bool restart = false;
  if (!state_.failed && layout_->stop_mode() != StopMode::kAbort) {
    const std::string death = fmt::format("{} process {} {}", role_of(pid), pid, what);
    std::string held;
    for (std::uint64_t index : files_held_by(pid)) {
      const std::string source(layout_->source_path(layout_->file(index)));
      RunState::Crash& crash = state_.crashed_on[source];
      ++crash.times;
      crash.role = role_of(pid);
      crash.how = what;
      held += (held.empty() ? " while holding " : ", ") + source;
    }
    if (state_.summary.restarts.size() < o_.max_restarts && !state_.interrupted_signal &&
        parse_sink_url(o_.sink).kind != SinkUrl::Kind::kNull) {
      state_.summary.restarts.push_back(death + held);
      restart = true;
      log::warning("{}{}; stopping the other stages to restart (restart {} of at most {})", death, held,
                   state_.summary.restarts.size(), o_.max_restarts);
    } else {
      state_.failed = true;
      state_.summary.failure = death + held;
      if (!state_.summary.restarts.empty())
        state_.summary.failure += fmt::format(", after {} restarts (--max-restarts)", state_.summary.restarts.size());
      log::error("{}; stopping the run", state_.summary.failure);
    }
    abort_run();
    // Stages see the abort within their wait timeout; force the stragglers after that.
    kill_deadline = Clock::now() + std::chrono::seconds(5);
  }
  return restart;
}

// A killed process never wrote its end: its slot still says running. One that failed said so.
void StageAttempt::mark_dead(pid_t pid) {
  for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
    ipc::ProcessSlot& slot = layout_->slot(s);
    const ipc::ProcessPhase phase = slot.current_phase();
    if (slot.pid.load() == pid && (phase == ipc::ProcessPhase::kStarting || phase == ipc::ProcessPhase::kRunning))
      slot.set_phase(ipc::ProcessPhase::kDead);
  }
}

std::string_view StageAttempt::role_of(pid_t pid) const {
  for (const auto& s : stages_)
    if (std::find(s.pids.begin(), s.pids.end(), pid) != s.pids.end()) return role_name(s.role);
  return "stage";
}

// The files a stage process held when it died, from the raw pools' ownership records: a
// reader's FILLING chunk (the file it was reading) or a parser's CLAIMED chunks (the file it
// was parsing). A writer holds row batches, which name no file; what it had not committed
// rolls back with its connection.
std::vector<std::uint64_t> StageAttempt::files_held_by(pid_t pid) const {
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

// Adds the attempt's counters to the run's.
void StageAttempt::collect_counters() {
  state_.attempt_skipped = 0;
  for (std::uint32_t s = 0; s < layout_->slot_count(); ++s)
    state_.attempt_skipped += layout_->slot(s).get(counter::kFilesSkipped);
  for (std::uint32_t s = 0; s < layout_->slot_count(); ++s) {
    const auto& slot = layout_->slot(s);
    state_.summary.files_loaded += slot.get(counter::kFilesLoaded);
    state_.summary.files_rejected += slot.get(counter::kFilesRejected);
    state_.summary.files_skipped += slot.get(counter::kFilesSkipped);
    state_.files_changed += slot.get(counter::kFilesChanged);
    state_.summary.unknown_columns += slot.get(counter::kUnknownColumns);
    for (std::uint32_t k = 0; k < kTableCount; ++k) state_.summary.rows[k] += slot.get(counter::kRowsFirst + k);
  }
}

}  // namespace edgarpipe
