// PipelineLayout: what the control segment of a run holds, and where.
//
// The supervisor creates one control segment per run plus one chunk-pool segment per producer
// (reader i: raw file bytes, parser j: row batches). The control segment holds:
//   - ControlHeader: stage counts, run id, sink, the stop word and the file-claim counter;
//   - the manifest: one FileEntry per input file, the roots they were found under (SegmentRoot),
//     and a string table of their names, the roots' paths and the errors;
//   - the process registry: one ipc::ProcessSlot per stage process (readers, parsers, writers);
//   - one ipc::Doorbell per stage process (rung by whoever feeds it);
//   - the rings, one SpscRing per (producer, consumer) pair and direction:
//       raw[i][j]    reader i -> parser j    handles of chunks holding one file each
//       raw_ret[i][j] parser j -> reader i   the same handles, given back
//       batch[j][k]  parser j -> writer k    handles of row-batch chunks
//       batch_ret[j][k] writer k -> parser j the same handles, given back
// Ring capacities are at least the producer's chunk count, so a push can never fail while the
// producer holds a chunk: backpressure lives in one place, the producer's free chunks.
//
// Work hand-out: readers claim files from `next_file` with one fetch_add each (files are few
// thousand per second at most; the counter is never contended enough to matter), so a slow file
// never holds back a reader's queue. The claimed index is the file's identity through the whole
// pipeline (chunk tag, FileBegin/FileEnd records, the sink's bookkeeping).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgarpipe/batch/row_batch.hpp"
#include "edgarpipe/core/tables.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/ipc/doorbell.hpp"
#include "edgarpipe/ipc/process_registry.hpp"
#include "edgarpipe/ipc/shared_segment.hpp"
#include "edgarpipe/ipc/spsc_ring.hpp"

namespace edgarpipe {

enum class Role : std::uint32_t { kReader = 1, kParser = 2, kWriter = 3 };
std::string_view role_name(Role r) noexcept;

// Meaning of ipc::ProcessSlot::counters for this pipeline.
namespace counter {
enum : std::uint32_t {
  kFilesRead,                               // reader: files read into chunks (not skipped)
  kBytesRead,                               // reader
  kFilesSkipped,                            // reader: content hash already loaded
  kFilesParsed,                             // parser
  kUnknownColumns,                          // parser: filings columns not in the contract
  kFilesLoaded,                             // writer
  kFilesRejected,                           // writer (parser, reader and database verdicts alike)
  kFilesChanged,                            // reader: read although loaded before (changed or --force)
  kRowsFirst,                               // writer: rows written, one counter per TableId
  kWaitInputNs = kRowsFirst + kTableCount,  // any stage: time asleep waiting for input
  kWaitOutputNs,                            // any stage: time asleep waiting for room downstream (backpressure)
  kStartNs,                                 // any stage: when it started (steady clock), for its busy fraction
  kQueuedBytes,  // parser, writer: bytes handed to it by all its producers and not yet returned (routing)
  kBytesDone,    // writer: bytes of the files it committed (loaded or rejected); reader: of those it skipped
  kCount,
};
}
static_assert(counter::kCount <= ipc::kSlotCounters);

// Stop word values.
enum class StopMode : std::uint32_t { kRun = 0, kDrain = 1, kAbort = 2 };

// Chunk tags: the file index, with this bit set when the chunk carries a read error message
// instead of file bytes.
inline constexpr std::uint64_t kReadErrorTag = 1ULL << 63;

// One input (InputFile, sources.hpp), 80 bytes: a full snapshot is ~10^6 of them. Its strings
// are in the string table: its name, and its root's (SegmentRoot) strings that join with it.
struct FileEntry {
  std::uint64_t size;             // at enumeration time; the reader writes the size read
  std::int64_t key_cik;           // InputFile::key_cik: -1 until parsed
  std::uint64_t known_hashes[2];  // content hashes already loaded under this key...
  std::uint64_t content_hash;     // written by the reader before it publishes the file
  std::uint64_t source_stamp;     // InputFile::source_stamp, recorded with the file
  std::uint32_t root;             // index in the root table
  std::uint32_t name_offset;      // into the string table
  std::uint32_t error_offset;     // into the string table: why the input cannot be read, if so
  std::int32_t key_page;          // InputFile::key_page: -1 until parsed
  std::int32_t zip_member;        // its entry's offset in the central directory of path(), or -1
  std::uint16_t name_length;
  std::uint16_t error_length;  // 0: no such error
  Dataset known_datasets[2];   // ... and the dataset each was loaded in
  std::uint8_t known_count;
  Dataset hint;
  bool forced;
  bool reload;  // --force: never skipped, replaces what is loaded
  // The dataset the file was found to be: written by the reader when it skips the file (the
  // dataset of the hash it matched) or by the writer when the file ends; read by the supervisor
  // once the stages have exited. kUnknown: not finished.
  Dataset resolved;
};
static_assert(sizeof(FileEntry) == 80);

// InputRoot (sources.hpp) in the control segment: offsets into the string table.
struct SegmentRoot {
  std::uint32_t kind;  // InputRoot::Kind
  std::uint32_t open_offset, open_length, canonical_offset, canonical_length, prefix_offset, prefix_length;
};

struct ControlHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t readers, parsers, writers;
  std::uint32_t raw_ring_capacity, batch_ring_capacity;
  std::uint64_t file_count;
  std::uint32_t root_count;
  std::int64_t run_id;
  std::uint32_t attempt;         // 1, then + 1 each time the supervisor restarts the stages after a crash
  BatchEncoding batch_encoding;  // how parsers encode rows for this run's sink (row_batch.hpp)
  char run_name[64];
  char sink[1024];
  std::uint64_t manifest_offset, roots_offset, strings_offset, slots_offset, bells_offset, rings_offset;
  std::uint64_t raw_ring_stride, batch_ring_stride;
  alignas(128) std::atomic<std::uint32_t> stop;
  alignas(128) std::atomic<std::uint64_t> next_file;
};

class InputList;  // sources.hpp

struct PipelineShape {
  std::uint32_t readers = 1, parsers = 2, writers = 1;
  std::uint32_t raw_chunks_per_reader = 0;    // ring capacity for raw rings
  std::uint32_t batch_chunks_per_parser = 0;  // ring capacity for batch rings
};

// A view of a mapped control segment; the same code serves the supervisor and the stages.
class PipelineLayout {
 public:
  static std::uint64_t bytes_for(const PipelineShape& shape, const InputList& files);
  // Lays out a zero-filled control segment. The caller fills run_id/sink afterwards if needed.
  static PipelineLayout format(std::byte* base, const PipelineShape& shape, const InputList& files,
                               std::string_view run_name);
  static PipelineLayout attach(std::byte* base);

  ControlHeader& header() const noexcept { return *reinterpret_cast<ControlHeader*>(base_); }
  std::uint32_t slot_count() const noexcept { return header().readers + header().parsers + header().writers; }
  std::uint32_t slot_of(Role role, std::uint32_t index) const noexcept;

  FileEntry& file(std::uint64_t i) const noexcept;
  // An input's strings, as InputList gives them (sources.hpp): joined from its root's and its name.
  std::string path(const FileEntry& f) const;         // to open: the file, or the archive of a member
  std::string source(const FileEntry& f) const;       // InputList::source_file
  std::string source_path(const FileEntry& f) const;  // InputList::source_path
  std::string_view open_error(const FileEntry& f) const noexcept;
  ipc::ProcessSlot& slot(std::uint32_t s) const noexcept;
  ipc::Doorbell& bell(std::uint32_t s) const noexcept;

  ipc::SpscRing& raw(std::uint32_t reader, std::uint32_t parser) const noexcept { return ring(0, reader, parser); }
  ipc::SpscRing& raw_return(std::uint32_t reader, std::uint32_t parser) const noexcept {
    return ring(1, reader, parser);
  }
  ipc::SpscRing& batch(std::uint32_t parser, std::uint32_t writer) const noexcept { return ring(2, parser, writer); }
  ipc::SpscRing& batch_return(std::uint32_t parser, std::uint32_t writer) const noexcept {
    return ring(3, parser, writer);
  }

  StopMode stop_mode() const noexcept { return static_cast<StopMode>(header().stop.load(std::memory_order_acquire)); }
  void request_stop(StopMode m) const noexcept;

  static std::string control_name(std::string_view run_name) { return std::string(run_name) + "-control"; }
  static std::string raw_pool_name(std::string_view run_name, std::uint32_t reader) {
    return std::string(run_name) + "-raw-" + std::to_string(reader);
  }
  static std::string batch_pool_name(std::string_view run_name, std::uint32_t parser) {
    return std::string(run_name) + "-batch-" + std::to_string(parser);
  }

 private:
  explicit PipelineLayout(std::byte* base) noexcept : base_(base) {}
  ipc::SpscRing& ring(int kind, std::uint32_t a, std::uint32_t b) const noexcept;
  std::byte* base_;
};

}  // namespace edgarpipe
