// One attempt of a run: the run's segments laid out afresh, the stage processes started and
// waited for (signals taken synchronously, with the progress line and the metrics file in the
// same loop), and their counters added to the run's. A stage that dies stops the attempt; the
// supervisor then starts another over the files not finished (docs/design/crash-recovery.md).
// Internal to lib/supervisor/.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "child_group.hpp"
#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"
#include "metrics.hpp"
#include "run_options.hpp"
#include "run_summary.hpp"
#include "stage_analysis.hpp"

namespace edgarpipe {

// What a run's attempts add up: the summary so far, and what the stages found out per input.
struct RunState {
  RunSummary summary;
  bool failed = false;         // the run fails (summary.failure says why)
  int interrupted_signal = 0;  // SIGINT or SIGTERM, once taken
  struct Crash {
    int times = 0;     // dead processes that held the file
    std::string role;  // of the last one
    std::string how;   // "killed by signal 11"
  };
  std::map<std::string, Crash> crashed_on;  // by source path
  std::uint64_t attempt_skipped = 0;        // files skipped by the latest attempt
  std::uint64_t files_changed = 0;          // read although loaded before: they replaced their filers
  std::vector<Dataset> resolved;            // per input (InputFile::origin): the dataset the stages found
  std::vector<bool> read;                   // per input: read in an attempt (its bytes are counted)
  std::vector<bool> deferred;               // per input: an overflow page held for the second pass
  std::vector<bool> stamp_current;          // per input: its source stamp is the one recorded for its key
  std::uint64_t unchanged = 0;              // inputs skipped unread: their source stamp is the loaded one's
  // Loaded keys read again and skipped by their content hash: their source stamps, to record.
  std::vector<std::pair<FileKey, std::uint64_t>> restamp;
};

// Refuses a /dev/shm smaller than the pools: container engines mount 64 MiB by default, where
// the pools of one reader alone take 360 MiB (--max-file-size 256). Says what size to give.
// check_shared_memory_at_start: the same before anything is recorded in the sink (the pools'
// sizes without the manifest, which is small next to them).
void check_shared_memory(const RunOptions& options, std::uint64_t control_bytes, std::uint64_t raw_bytes,
                         std::uint64_t batch_bytes);
void check_shared_memory_at_start(const RunOptions& options);

class StageAttempt {
 public:
  using Clock = std::chrono::steady_clock;
  StageAttempt(const RunOptions& options, RunState& state, MetricsFile* metrics, const sigset_t& original_mask,
               Clock::time_point run_started)
      : o_(options), state_(state), metrics_(metrics), original_mask_(original_mask), run_started_(run_started) {}

  // How an attempt ended: its stage analysis, and whether a stage died and the stages are to be
  // started again over the unfinished files.
  struct Outcome {
    StageAnalysis analysis;
    bool restart = false;
  };
  Outcome run(const InputList& files, const SinkUrl& sink_url);

 private:
  void spawn_all(ChildGroup& children);
  bool wait_all(ChildGroup& children);  // true: a stage died and asked for a restart
  bool on_exit(const ChildGroup::Exit& exit, std::optional<Clock::time_point>& kill_deadline);
  void abort_run() { layout_->request_stop(StopMode::kAbort); }
  void mark_dead(pid_t pid);
  std::string_view role_of(pid_t pid) const;
  std::vector<std::uint64_t> files_held_by(pid_t pid) const;
  void collect_counters();
  double seconds_since_start() const { return std::chrono::duration<double>(Clock::now() - run_started_).count(); }

  const RunOptions& o_;
  RunState& state_;
  MetricsFile* metrics_;  // --metrics-file, or null
  sigset_t original_mask_;
  Clock::time_point run_started_;
  std::optional<PipelineLayout> layout_;
  std::vector<StageProcesses> stages_;       // the processes of this attempt
  std::map<pid_t, std::uint64_t> exit_ns_;   // when each was reaped
  std::vector<ipc::ChunkPool> raw_pools_;    // views into this attempt's reader pools
  std::vector<ipc::ChunkPool> batch_pools_;  // and parser pools
};

}  // namespace edgarpipe
