// Doorbell: an eventcount in shared memory that lets one consumer sleep on many rings.
//
// What it is: every process that consumes (a parser reading from all readers' rings, a reader
// waiting for free chunks to come back) owns one Doorbell; every producer that feeds it rings it
// after publishing. The sleeper spins briefly, then sleeps in the kernel (futex), so a stage that
// has nothing to do burns no CPU even when stages outnumber cores.
//
// Protocol (consumer):  key = prepare_wait(); if (nothing in any ring) wait(key, timeout);
//           (producer):  publish into the ring (release store); ring();
// Memory ordering: ring() increments `sequence_` with seq_cst after the producer's release store,
// and the sleeper registers in `sleepers_` with seq_cst before it re-checks the futex word. So
// either the producer sees the sleeper and wakes it, or the sleeper's futex_wait sees the new
// sequence and returns at once: a wake-up cannot be lost (the classic eventcount argument).
// Producers skip the syscall when nobody sleeps, so an idle-free pipeline pays two atomics.
//
// Crash contract: all state is two 32-bit counters. A process killed while sleeping leaves
// `sleepers_` one too high, which costs at most spurious futex_wake calls, never a lost wake.
// Waits always take a timeout so a sleeper re-checks shutdown and liveness flags regularly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgarpipe::ipc {

// futex(2) on a 32-bit word that may live in shared memory (no FUTEX_PRIVATE_FLAG).
// Returns when woken, on timeout, or at once if *word != expected.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::chrono::nanoseconds timeout) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept;

// Spin-pause hint for short busy-waits.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

struct alignas(64) Doorbell {
  std::atomic<std::uint32_t> sequence_{0};
  std::atomic<std::uint32_t> sleepers_{0};

  std::uint32_t prepare_wait() const noexcept { return sequence_.load(std::memory_order_seq_cst); }

  // Sleeps until ring() was called after prepare_wait() returned `key`, or `timeout` passed.
  void wait(std::uint32_t key, std::chrono::nanoseconds timeout) noexcept {
    // Short spin first: a futex round trip costs ~10 us on these VMs, a few hundred pauses less.
    for (int i = 0; i < 256; ++i) {
      if (sequence_.load(std::memory_order_acquire) != key) return;
      cpu_relax();
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    futex_wait(&sequence_, key, timeout);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  void ring() noexcept {
    sequence_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) futex_wake_all(&sequence_);
  }
};

}  // namespace edgarpipe::ipc
