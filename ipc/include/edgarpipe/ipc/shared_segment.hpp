// SharedSegment: one named POSIX shared-memory segment, mapped into this process.
//
// What it is: a thin owner of a Boost.Interprocess `shared_memory_object` + `mapped_region`.
// The supervisor creates every segment of a run (mode 0600, name unique per run) and removes
// them at exit; stage processes only open and map them.
//
// Memory-ordering contract: none of its own. The mapping is plain memory; every structure placed
// in it (rings, doorbells, chunk descriptors) states its own ordering. Nothing in a segment is a
// pointer: structures refer to each other by byte offsets from the segment base, because every
// process maps the segment at a different address.
//
// Crash contract: a segment outlives the processes that map it. If the supervisor dies (kill -9)
// its segments stay in /dev/shm; their names carry the creator's pid and start time
// (segment_prefix()), so `edgarpipe cleanup` (remove_stale_segments) can tell a dead run's
// segments from a live one's and unlink them, even once the pid has been given to another
// process. A stage process that dies only loses its mapping.
//
// Creation reserves the pages in the tmpfs (posix_fallocate: a full /dev/shm is an error naming
// the segment, not a SIGBUS on the first touch) and pre-faults them so that no stage takes page
// faults in steady state; see docs/design/shared-memory.md for the measured cost of not doing so.
// A segment may instead be created and opened with Populate::kNone and then pre-faulted up to a
// prefix (populate()): a chunk pool leaves its one --max-file-size chunk to be faulted on first
// use, because a rare giant file should not cost every run ~256 MiB of zeroing and page tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace edgarpipe::ipc {

class SharedSegment {
 public:
  // Creates a new segment of `size` bytes (fails if the name exists), mode 0600, zero-filled and
  // pre-faulted. Throws std::runtime_error with a one-line reason on failure.
  enum class Populate { kAll, kNone };
  static SharedSegment create(const std::string& name, std::size_t size, Populate populate = Populate::kAll);
  // Opens and maps an existing segment read-write. Throws std::runtime_error on failure.
  static SharedSegment open(const std::string& name, Populate populate = Populate::kAll);
  // Allocates the first `bytes` in the segment's tmpfs (reserve()), then pre-faults them,
  // writable. This and map_populated() fault page-aligned slices on up to four threads of the
  // calling process. Throws std::runtime_error naming the segment when /dev/shm has no room for
  // them: without the reservation a full tmpfs would kill the process with SIGBUS on the touch.
  void populate(std::size_t bytes) const;
  // Allocates the pages of [offset, offset + bytes) in the segment's tmpfs (posix_fallocate), so
  // that touching them later cannot raise SIGBUS on a full /dev/shm. Returns 0, or the errno
  // (ENOSPC: no room). Pages already allocated cost nothing.
  int reserve(std::size_t offset, std::size_t bytes) const noexcept;
  // Fills this process's page tables for the first `bytes` of a segment whose pages another
  // process has already populated, writable, so that writes to them take no fault. Read-faulting
  // maps 16 pages per fault (the kernel's fault-around) where populate()'s write faults map one,
  // and a shared writable tmpfs mapping needs no write fault afterwards: 12 ms instead of 26 ms
  // for a 104 MiB pool on the 2-core VM, with no fault on the writes that follow.
  void map_populated(std::size_t bytes) const noexcept;
  // Unlinks a segment name; returns false if it did not exist. Mappings stay valid until unmapped.
  static bool remove(const std::string& name) noexcept;

  SharedSegment(SharedSegment&&) noexcept;
  SharedSegment& operator=(SharedSegment&&) noexcept;
  ~SharedSegment();

  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }

  template <class T>
  T* at(std::uint64_t offset) const noexcept {
    return reinterpret_cast<T*>(base_ + offset);
  }

 private:
  struct Mapping;
  SharedSegment(std::string name, std::unique_ptr<Mapping> mapping);
  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

// Bytes free in the filesystem behind POSIX shared memory (/dev/shm), or -1 if unknown.
std::int64_t shm_bytes_available() noexcept;

// Segment names of this project start with this prefix, then the creating pid:
// "edgarpipe-<pid>.<start time>-..." (segment_prefix()), or "edgarpipe-<pid>-..." (tests, and
// runs of earlier releases).
inline constexpr const char* kSegmentPrefix = "edgarpipe-";

// When process `pid` started (clock ticks after boot: /proc/<pid>/stat, field 22), or 0 if no
// such process runs. A pid and its start time name one process: pids are reused, this pair not.
std::uint64_t process_start_time(int pid) noexcept;

// "edgarpipe-<pid>.<start time>-": the prefix of the segments this process creates.
std::string segment_prefix();

// Removes segments whose creating process no longer exists (with dry_run, only lists them): no
// process has its pid, or (for a name with a start time) the process with that pid started at
// another time, so the pid was reused. Returns their names.
std::vector<std::string> remove_stale_segments(bool dry_run = false);

// Rounds up to a multiple of `alignment` (a power of two).
constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) noexcept {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace edgarpipe::ipc
