// ChunkPool: a producer-owned pool of fixed-size chunks in one shared-memory segment, in a few
// power-of-two size classes, with one ownership record per chunk.
//
// What it is: each producer process (a reader filling raw file bytes, a parser filling row
// batches) owns one pool. It fills a chunk in place, publishes the chunk's 64-bit handle on an
// SpscRing, and gets the handle back on a completion ring when the consumer is done. Payloads are
// never copied between processes: the consumer reads the producer's chunk where it lies.
// Every payload starts page-aligned (so read()/pread() can target it) and is followed by at least
// kTailPadding zero bytes (simdjson's SIMDJSON_PADDING), so a parser can parse a file in place.
//
// Handles: generation (32 bits) | pool id (16) | chunk index (16). The generation is bumped every
// time a chunk is recycled, so a stale handle (one used after its chunk went back: a bug) is
// recognised and refused instead of touching a chunk that now holds other data.
//
// Ownership record (ChunkDescriptor::state, one 64-bit word):
//   generation (32) | owner (24: process slot 8 | incarnation 16) | state (8)
//   FREE --begin_fill(producer)--> FILLING --publish--> PUBLISHED --claim(consumer)--> CLAIMED
//   --retire(consumer)--> RETURNED --recycle(producer)--> FREE (generation + 1)
// Each transition is a single CAS by the chunk's current owner, so the supervisor can read every
// chunk's state and owner at any time and, after a kill -9, find exactly what the dead incarnation
// held (FILLING or CLAIMED with its owner id).
//
// Memory ordering: publish() stores the length, then the state with release; claim() CASes with
// acquire, so the consumer sees the payload the producer wrote. The handle also travels through an
// SpscRing (release/acquire), which alone would suffice; the state word is for bookkeeping.
//
// Crash contract: the records say what a dead process held: a producer's FILLING chunks, a
// consumer's CLAIMED ones, each with its owner id. The layer above reads them to name the files
// a dead stage held, and then abandons the whole pool: the stages restart on fresh segments, so
// no chunk is ever re-published or reused across a crash (a process killed mid-transition may
// leave a ring or a free list half-changed). Within one life of a pool, the free lists are
// process-local (ChunkAllocator) and rebuilt from the state words when an allocator attaches.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgarpipe/ipc/shared_segment.hpp"

namespace edgarpipe::ipc {

inline constexpr std::uint64_t kTailPadding = 64;  // >= SIMDJSON_PADDING
inline constexpr std::uint32_t kMaxSizeClasses = 8;

struct SizeClass {
  std::uint64_t chunk_bytes;  // usable payload capacity, a multiple of 4096
  std::uint32_t count;
};

enum class ChunkState : std::uint8_t { kFree = 0, kFilling = 1, kPublished = 2, kClaimed = 3, kReturned = 4 };

// Who holds a chunk: registry slot and that slot's incarnation (never a bare pid: pids recycle).
// 8 and 16 bits are enough by construction: a run has at most 3 x 64 stage processes (the CLI's
// bound per stage), and the incarnation is the attempt number, at most --max-restarts + 1 (101).
struct OwnerId {
  std::uint8_t slot = 0;
  std::uint16_t incarnation = 0;
  std::uint32_t packed() const noexcept { return (std::uint32_t{slot} << 16) | incarnation; }
};

struct alignas(64) ChunkDescriptor {
  std::atomic<std::uint64_t> state{0};
  std::uint64_t length = 0;       // payload bytes written by the producer
  std::uint64_t tag = 0;          // producer-defined provenance (e.g. file index)
  std::uint64_t data_offset = 0;  // from the segment base
  std::uint64_t capacity = 0;
  std::uint32_t size_class = 0;

  static std::uint64_t pack(ChunkState s, std::uint32_t owner, std::uint32_t generation) noexcept {
    return (std::uint64_t{generation} << 32) | (std::uint64_t{owner & 0xFFFFFF} << 8) | static_cast<std::uint8_t>(s);
  }
  static ChunkState state_of(std::uint64_t word) noexcept { return static_cast<ChunkState>(word & 0xFF); }
  static std::uint32_t owner_of(std::uint64_t word) noexcept {
    return static_cast<std::uint32_t>((word >> 8) & 0xFFFFFF);
  }
  static std::uint32_t generation_of(std::uint64_t word) noexcept { return static_cast<std::uint32_t>(word >> 32); }
};

using ChunkHandle = std::uint64_t;

inline ChunkHandle make_handle(std::uint32_t generation, std::uint16_t pool_id, std::uint16_t index) noexcept {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{pool_id} << 16) | index;
}
inline std::uint16_t handle_pool(ChunkHandle h) noexcept { return static_cast<std::uint16_t>(h >> 16); }
inline std::uint16_t handle_index(ChunkHandle h) noexcept { return static_cast<std::uint16_t>(h); }
inline std::uint32_t handle_generation(ChunkHandle h) noexcept { return static_cast<std::uint32_t>(h >> 32); }

// A view of a formatted pool inside a mapped segment. Cheap to copy; holds no ownership.
class ChunkPool {
 public:
  static std::uint64_t bytes_for(std::span<const SizeClass> classes) noexcept;
  // Lays out a pool at `base` (the start of a zero-filled segment of bytes_for() bytes). With
  // `lazy_last_class`, eager_bytes() stops before the last (largest) class: those chunks are
  // faulted on first use instead of at start (the rare --max-file-size chunk).
  static ChunkPool format(std::byte* base, std::uint16_t pool_id, std::span<const SizeClass> classes,
                          bool lazy_last_class = false);
  // Attaches to a pool formatted by another process. Throws std::runtime_error on a bad magic.
  static ChunkPool attach(std::byte* base);

  std::uint16_t pool_id() const noexcept;
  std::uint32_t chunk_count() const noexcept;
  std::uint32_t class_count() const noexcept;
  SizeClass size_class(std::uint32_t i) const noexcept;
  std::uint64_t largest_chunk() const noexcept;
  // The prefix of the segment to pre-fault (header, descriptors and the eager classes' data).
  std::uint64_t eager_bytes() const noexcept;

  ChunkDescriptor& descriptor(std::uint16_t index) const noexcept;
  ChunkDescriptor& descriptor_of(ChunkHandle h) const noexcept { return descriptor(handle_index(h)); }
  std::byte* data(ChunkHandle h) const noexcept;
  ChunkHandle current_handle(std::uint16_t index) const noexcept;

  // Transitions; each returns false (and changes nothing) if the chunk is not in the expected
  // state or the handle's generation is stale. [[nodiscard]]: a false is a broken protocol or a
  // stale handle, never something to drop silently.
  [[nodiscard]] bool begin_fill(ChunkHandle h, OwnerId producer) const noexcept;  // FREE -> FILLING
  [[nodiscard]] bool publish(ChunkHandle h, std::uint64_t length,
                             OwnerId producer) const noexcept;                // FILLING -> PUBLISHED
  [[nodiscard]] bool claim(ChunkHandle h, OwnerId consumer) const noexcept;   // PUBLISHED -> CLAIMED
  [[nodiscard]] bool retire(ChunkHandle h, OwnerId consumer) const noexcept;  // CLAIMED -> RETURNED
  // RETURNED (or FILLING, for a producer abandoning a fill) -> FREE, generation + 1.
  // Returns the new handle of the chunk.
  [[nodiscard]] std::optional<ChunkHandle> recycle(ChunkHandle h) const noexcept;

 private:
  explicit ChunkPool(std::byte* base) noexcept : base_(base) {}
  struct Header;
  Header& header() const noexcept;
  bool transition(ChunkHandle h, ChunkState from, ChunkState to, std::uint32_t owner, bool check_owner,
                  std::uint32_t expected_owner, std::memory_order order) const noexcept;
  std::byte* base_;
};

// Producer-local free lists over a pool (never shared). The smallest class that fits is used;
// the next larger class serves as overflow so a burst of small files does not stall on a few
// small chunks, but small payloads never take the largest class (it is kept for large files).
class ChunkAllocator {
 public:
  explicit ChunkAllocator(ChunkPool pool);
  // A FREE chunk that can hold `bytes`, moved to FILLING by `owner`; nullopt if none is free now.
  [[nodiscard]] std::optional<ChunkHandle> acquire(std::uint64_t bytes, OwnerId owner);
  // Whether any class could ever hold `bytes` (if not, the payload must be refused).
  bool fits(std::uint64_t bytes) const noexcept { return bytes <= pool_.largest_chunk(); }
  // Takes back a RETURNED chunk (from a completion ring) or an abandoned FILLING one. False: the
  // handle is stale or the chunk in another state (a broken protocol), and nothing changed.
  [[nodiscard]] bool recycle(ChunkHandle h);
  std::uint32_t free_count() const noexcept;
  const ChunkPool& pool() const noexcept { return pool_; }

 private:
  ChunkPool pool_;
  std::vector<std::vector<std::uint16_t>> free_;  // per size class
};

// Opens the segment of a formatted pool. Its pages exist already (the creator allocated them);
// what remains is this process's page tables. The producer, which writes every chunk, maps the
// eager_bytes() (not a lazy last class) at once (SharedSegment::map_populated), so that it takes
// no fault in steady state. A consumer only reads the payloads, and a read fault maps 16 pages at
// a time (the kernel's fault-around), so it maps them as it first meets them instead: ~1,700
// faults over the first pass through a 104 MiB pool, against ~27,000 page-table entries filled up
// front in every consumer at start (35-45 ms each on the 2-core VM); none once the pool has gone
// round once.
enum class PoolRole { kProducer, kConsumer };
SharedSegment open_pool_segment(const std::string& name, PoolRole role);

}  // namespace edgarpipe::ipc
