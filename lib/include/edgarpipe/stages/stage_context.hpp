// What every stage process attaches to at start: the control segment, its registry slot and its
// identity as a chunk owner. Internal to the stage executables.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"

namespace edgarpipe {

// The supervisor asked for an immediate stop; the stage unwinds and exits without committing.
struct StageAborted : std::runtime_error {
  StageAborted() : std::runtime_error("stopped by the supervisor") {}
};

// Checks an ipc transition the protocol guarantees: a push onto a ring that holds as many entries
// as the pool has chunks, the retire or publish of a chunk this process owns. A false means the
// shared memory is corrupt or a stage broke the protocol: the stage stops (exit 1) and the
// supervisor starts the run's stages again, instead of going on with a chunk lost.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("shared-memory protocol broken: ") + what);
}

struct StageContext {
  ipc::SharedSegment control;
  PipelineLayout layout;
  std::uint32_t slot_index;
  std::uint32_t index;  // within the role
  ipc::ProcessSlot& slot;
  ipc::OwnerId me;
  // Test-only fault injection (EDGARPIPE_TEST_FAULT, see docs/HACKING.md): a pause per file,
  // and (parsers) a SIGSEGV on every file whose source name contains test_crash_on.
  std::chrono::milliseconds test_delay_per_file{0};
  std::string test_crash_on{};

  // The routing load of a consumer (counter::kQueuedBytes): what all its producers have handed
  // it and it has not given back. Producers route to the least loaded consumer, so producers
  // that each see only their own share do not all pick the same one. Relaxed atomics: the value
  // only steers routing, and a fresh layout each attempt resets it after a crash.
  std::uint64_t load_of(Role role, std::uint32_t i) const noexcept {
    return layout.slot(layout.slot_of(role, i)).counters[counter::kQueuedBytes].load(std::memory_order_relaxed);
  }
  void add_load(Role role, std::uint32_t i, std::uint64_t bytes) const noexcept {
    layout.slot(layout.slot_of(role, i)).counters[counter::kQueuedBytes].fetch_add(bytes, std::memory_order_relaxed);
  }
  void drop_load(std::uint64_t bytes) const noexcept {
    slot.counters[counter::kQueuedBytes].fetch_sub(bytes, std::memory_order_relaxed);
  }

  // Where a producer sends `bytes`: the least loaded consumer of `consumers` (load_of, so by
  // bytes, not by count: one 30 MB file does not starve a queue) among those within this
  // producer's `window` (outstanding[i], its own bytes not yet given back by consumer i, plus
  // `bytes`; or nothing outstanding there). Ties go round from this producer's index, so
  // producers do not all pick consumer 0. kNoConsumer when every consumer is at the window: the
  // caller waits for returns and asks again.
  static constexpr std::uint32_t kNoConsumer = UINT32_MAX;
  std::uint32_t least_loaded(Role consumers, std::span<const std::uint64_t> outstanding, std::uint64_t bytes,
                             std::uint64_t window) const noexcept {
    const auto count = static_cast<std::uint32_t>(outstanding.size());
    std::uint32_t target = kNoConsumer;
    std::uint64_t target_load = 0;
    for (std::uint32_t n = 0; n < count; ++n) {
      const std::uint32_t c = (index + n) % count;
      if (outstanding[c] != 0 && outstanding[c] + bytes > window) continue;
      const std::uint64_t load = load_of(consumers, c);
      if (target == kNoConsumer || load < target_load) {
        target = c;
        target_load = load;
      }
    }
    return target;
  }

  // Parses `--control NAME --slot N`, attaches, checks the slot's role, marks it running.
  static StageContext attach(int argc, char** argv, Role role);

  ipc::Doorbell& my_bell() const noexcept { return layout.bell(slot_index); }
  // Stamps the start of the stage's main loop (after its set-up: mapping and pre-faulting pools,
  // connecting to the database), from which its busy share is measured.
  void mark_started() const;
  // Why a stage sleeps, for the busy/waiting metrics that name a run's bottleneck.
  enum class WaitFor { kInput, kOutput };
  // Sleeps on this process's doorbell until rung or `timeout`, counting the time slept against
  // `reason`; throws StageAborted on abort.
  void wait(std::uint32_t key, WaitFor reason,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(100)) const;
  void check_abort() const {
    if (layout.stop_mode() == StopMode::kAbort) throw StageAborted();
  }
};

// Runs a stage body with the common error handling: returns the process exit status.
int run_stage(const char* name, int argc, char** argv, Role role, void (*body)(StageContext&));

}  // namespace edgarpipe
