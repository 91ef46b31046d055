// ProcessRegistry: one slot per stage process of a run, in the control segment.
//
// What it is: the supervisor assigns each stage process a slot (role, index) before starting it,
// with an incarnation: the run's attempt number (each restart of the stages is a new attempt, on
// fresh segments). Chunk ownership records name owners as (slot, incarnation), so after a crash
// the supervisor knows exactly what the dead process held. Slots also hold the process's
// life-cycle state and generic counters (their meaning is defined by the layer above; ipc only
// stores them).
//
// Memory ordering: every field is an independent atomic word. `role`, `index` and `incarnation`
// are written by the supervisor before the process starts (ordered before it by fork/exec).
// `pid` is written twice with the same value: by the supervisor after fork, and by the process
// at start, so it is set whichever runs first. The counters are relaxed: statistics and routing
// hints, never used to order memory. Most are written by the process alone and read by the
// supervisor as monotone snapshots; a counter the layer above shares between processes (a
// consumer's queued bytes, added to by each of its producers) is only changed by atomic
// read-modify-writes (fetch_add/fetch_sub), so no update is lost. `phase` is
// written with release after the process's last publication, so a reader that acquires kFinished
// sees everything it produced.
//
// Crash contract: a killed process leaves `phase` at kStarting or kRunning (never kFinished);
// the supervisor learns of the death from waitpid and then marks the slot kDead itself, the one
// write to `phase` by another process, made after its writer is gone. A process that failed
// cleanly wrote kFailed and keeps it. Counters of a dead process remain readable.
#pragma once

#include <atomic>
#include <cstdint>

namespace edgarpipe::ipc {

inline constexpr std::uint32_t kSlotCounters = 24;

enum class ProcessPhase : std::uint32_t {
  kEmpty = 0,
  kStarting = 1,
  kRunning = 2,
  kFinished = 3,
  kFailed = 4,
  kDead = 5
};

struct alignas(128) ProcessSlot {
  std::atomic<std::uint32_t> role{0};   // defined by the layer above
  std::atomic<std::uint32_t> index{0};  // position within its role
  std::atomic<std::int32_t> pid{0};
  std::atomic<std::uint32_t> incarnation{0};
  std::atomic<std::uint32_t> phase{0};
  std::atomic<std::uint64_t> counters[kSlotCounters]{};

  ProcessPhase current_phase() const noexcept {
    return static_cast<ProcessPhase>(phase.load(std::memory_order_acquire));
  }
  void set_phase(ProcessPhase p) noexcept { phase.store(static_cast<std::uint32_t>(p), std::memory_order_release); }
  void add(std::uint32_t counter, std::uint64_t amount) noexcept {
    // Single writer: a relaxed load+store is enough and avoids a locked instruction on the hot path.
    counters[counter].store(counters[counter].load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  std::uint64_t get(std::uint32_t counter) const noexcept { return counters[counter].load(std::memory_order_relaxed); }
};

}  // namespace edgarpipe::ipc
