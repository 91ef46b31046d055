// SpscRing: a bounded, lock-free, single-producer/single-consumer ring of 64-bit words in shared
// memory. The pipeline has one ring per (producer process, consumer process) pair and direction,
// as iceoryx2 does; see docs/design/shared-memory.md for why not one MPMC queue per boundary.
//
// Layout: a header with `head` (written only by the consumer) and `tail` (written only by the
// producer), each on its own 128-byte block so the two processes never share a cache line (the
// adjacent-line prefetcher pulls pairs of lines), followed by `capacity` 8-byte entries.
// Entries carry handles (chunk pool handles, file indices), never payload.
//
// Memory ordering: the producer writes the entry, then publishes with a release store of `tail`;
// the consumer loads `tail` with acquire before reading entries, reads them, then frees the slots
// with a release store of `head`, which the producer loads with acquire before reusing slots.
// Each side caches the other's index (rigtorp) and re-reads it only when the cache says
// full/empty, so the steady state touches the shared line once per batch, not per item.
//
// Crash contract: each index has exactly one writer and every store is one aligned 64-bit word,
// so after a kill -9 at any instant the ring is self-describing: entries in [head, tail) are fully
// published and nothing else is, and nothing can be stuck "claimed but unpublished" (the failure
// mode of MPMC ticket queues). No process resumes a ring after a crash: recovery abandons every
// segment of the attempt and starts the stages on fresh ones (docs/design/crash-recovery.md), so
// this contract is what a test or a post-mortem may rely on when it reads a stopped ring.
//
// Who may call what: try_push from the producer process only, try_pop/try_peek/pop from the
// consumer process only; size_approx from anyone (e.g. the supervisor's monitoring);
// for_each_unconsumed from a test or diagnostic, once both sides are stopped.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>

namespace edgarpipe::ipc {

class SpscRing {
 public:
  // Bytes needed in shared memory for a ring of `capacity` entries (rounded up to a power of two).
  static std::uint64_t bytes_for(std::uint32_t capacity) noexcept {
    return sizeof(SpscRing) + sizeof(std::uint64_t) * round_up_pow2(capacity);
  }

  // Constructs an empty ring at `where` (which must be 128-byte aligned, e.g. a segment offset).
  static SpscRing* construct(void* where, std::uint32_t capacity) noexcept {
    assert(reinterpret_cast<std::uintptr_t>(where) % 128 == 0 && capacity > 0);
    return new (where) SpscRing(round_up_pow2(capacity));
  }

  std::uint32_t capacity() const noexcept { return capacity_; }

  // Producer only. Returns false if the ring is full.
  [[nodiscard]] bool try_push(std::uint64_t value) noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - producer_cached_head_ >= capacity_) {
      producer_cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - producer_cached_head_ >= capacity_) return false;
    }
    entries()[tail & mask_] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only: reads the oldest entry without consuming it. With pop(), this lets a consumer
  // record ownership of what the entry names (e.g. claim a chunk) before the entry leaves the
  // ring, so a kill between the two steps never loses track of it.
  [[nodiscard]] bool try_peek(std::uint64_t& value) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == consumer_cached_tail_) {
      consumer_cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head == consumer_cached_tail_) return false;
    }
    value = entries()[head & mask_];
    return true;
  }
  // Consumer only, after a successful try_peek: consumes that entry.
  void pop() noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    assert(head != tail_.load(std::memory_order_relaxed) && "pop() without an entry try_peek() saw");
    head_.store(head + 1, std::memory_order_release);
  }

  // Consumer only. Returns false if the ring is empty.
  [[nodiscard]] bool try_pop(std::uint64_t& value) noexcept {
    if (!try_peek(value)) return false;
    pop();
    return true;
  }

  // Anyone: entries published and not yet consumed (a snapshot; exact when both sides are idle).
  std::uint64_t size_approx() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

  // Both sides stopped (`head` and `tail` no longer move): calls f(entry) for every published
  // entry the consumer did not take, oldest first, without consuming them.
  template <class F>
  void for_each_unconsumed(F&& f) const {
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    for (std::uint64_t i = head_.load(std::memory_order_acquire); i != tail; ++i) f(entries()[i & mask_]);
  }

 private:
  explicit SpscRing(std::uint32_t capacity) noexcept : capacity_(capacity), mask_(capacity - 1) {}

  static std::uint32_t round_up_pow2(std::uint32_t v) noexcept {
    std::uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
  }
  std::uint64_t* entries() noexcept { return reinterpret_cast<std::uint64_t*>(this + 1); }
  const std::uint64_t* entries() const noexcept { return reinterpret_cast<const std::uint64_t*>(this + 1); }

  // Read-only after construction.
  alignas(128) std::uint32_t capacity_;
  std::uint32_t mask_;
  // Consumer's block: its index and its private cache of the producer's index (a hint, refreshed
  // when it says empty), on the index's own line so that the cache costs no extra line.
  alignas(128) std::atomic<std::uint64_t> head_{0};
  std::uint64_t consumer_cached_tail_ = 0;
  // Producer's block.
  alignas(128) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t producer_cached_head_ = 0;
};

static_assert(sizeof(SpscRing) % 128 == 0);

}  // namespace edgarpipe::ipc
