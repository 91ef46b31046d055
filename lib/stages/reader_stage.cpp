// Reader stage: claims files, reads each one whole into a chunk of its own pool (straight from
// the file into shared memory, one copy), hashes it, and hands the chunk to the parser with the
// fewest queued bytes from all readers. Files whose content hash is already loaded are skipped
// here, before any parsing.
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "edgarpipe/input/input_reader.hpp"
#include "edgarpipe/stages/entry_points.hpp"
#include "edgarpipe/stages/stage_context.hpp"

namespace edgarpipe {

namespace {

class Reader {
 public:
  explicit Reader(StageContext& ctx)
      : ctx_(ctx),
        pool_segment_(ipc::open_pool_segment(PipelineLayout::raw_pool_name(ctx.layout.header().run_name, ctx.index),
                                             ipc::PoolRole::kProducer)),
        allocator_(ipc::ChunkPool::attach(pool_segment_.base())),
        outstanding_(ctx.layout.header().parsers, 0) {
    std::uint64_t pool_bytes = 0;
    for (std::uint32_t c = 0; c < pool().class_count(); ++c)
      pool_bytes += pool().size_class(c).chunk_bytes * pool().size_class(c).count;
    window_ = pool_bytes / outstanding_.size();
  }

  void run() {
    const ControlHeader& h = ctx_.layout.header();
    ctx_.mark_started();
    while (ctx_.layout.stop_mode() == StopMode::kRun) {
      const std::uint64_t index = ctx_.layout.header().next_file.fetch_add(1, std::memory_order_relaxed);
      if (index >= h.file_count) break;
      read_one(index);
    }
  }

 private:
  const ipc::ChunkPool& pool() const noexcept { return allocator_.pool(); }

  // Takes back chunks the parsers are done with.
  void drain_returns() {
    for (std::uint32_t p = 0; p < outstanding_.size(); ++p) {
      std::uint64_t handle;
      while (ctx_.layout.raw_return(ctx_.index, p).try_pop(handle)) {
        outstanding_[p] -= pool().descriptor_of(handle).length;
        require(allocator_.recycle(handle), "recycle of a returned raw chunk");
      }
    }
  }

  // A FILLING chunk for file `index`, tagged at once so the ownership records name the file a
  // reader was reading if it dies mid-read (the supervisor reports it).
  ipc::ChunkHandle acquire(std::uint64_t bytes, std::uint64_t index) {
    for (;;) {
      if (auto h = try_acquire(bytes, index)) return *h;
      drain_returns();
      if (auto h = try_acquire(bytes, index)) return *h;
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      drain_returns();
      if (auto h = try_acquire(bytes, index)) return *h;
      ctx_.wait(key, StageContext::WaitFor::kOutput);  // backpressure: every chunk that fits is with a parser
    }
  }
  // The pool pre-faults every chunk but its largest, which is faulted on first use: its pages
  // are allocated here first, so that a full /dev/shm rejects the file instead of killing the
  // reader with SIGBUS. Returns the reason, or "".
  std::string reserve(ipc::ChunkHandle h, std::uint64_t bytes) const {
    const auto offset = static_cast<std::size_t>(pool().data(h) - pool_segment_.base());
    if (offset + bytes + ipc::kTailPadding <= pool().eager_bytes()) return {};
    const int err = pool_segment_.reserve(offset, bytes + ipc::kTailPadding);
    if (err == 0) return {};
    return fmt::format("no room in /dev/shm for a file of {} bytes ({}): free space there, or lower --max-file-size",
                       bytes, std::strerror(err));
  }

  std::optional<ipc::ChunkHandle> try_acquire(std::uint64_t bytes, std::uint64_t index) {
    auto h = allocator_.acquire(bytes, ctx_.me);
    if (h) pool().descriptor_of(*h).tag = index;
    return h;
  }

  // The least loaded parser under its window (StageContext::least_loaded): no parser holds more
  // than its share of this pool unless it holds nothing. Waits for returns when all are at it.
  std::uint32_t choose_parser(std::uint64_t length) {
    for (;;) {
      const std::uint32_t target = ctx_.least_loaded(Role::kParser, outstanding_, length, window_);
      if (target != StageContext::kNoConsumer) return target;
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      const std::uint64_t before = total_outstanding();
      drain_returns();
      if (total_outstanding() == before) ctx_.wait(key, StageContext::WaitFor::kOutput);
    }
  }

  std::uint64_t total_outstanding() const {
    std::uint64_t n = 0;
    for (auto b : outstanding_) n += b;
    return n;
  }

  void publish(ipc::ChunkHandle h, std::uint64_t length, std::uint64_t tag) {
    pool().descriptor_of(h).tag = tag;
    const std::uint32_t target = choose_parser(length);
    require(pool().publish(h, length, ctx_.me), "publish of a raw chunk this reader fills");
    outstanding_[target] += length;
    ctx_.add_load(Role::kParser, target, length);
    require(ctx_.layout.raw(ctx_.index, target).try_push(h), "push onto a raw ring (capacity >= chunks)");
    ctx_.layout.bell(ctx_.layout.slot_of(Role::kParser, target)).ring();
  }

  void publish_error(std::uint64_t index, const std::string& message) {
    const ipc::ChunkHandle h = acquire(message.size() + 1, index);
    std::memcpy(pool().data(h), message.data(), message.size());
    publish(h, message.size(), index | kReadErrorTag);
  }

  void read_one(std::uint64_t index) {
    if (ctx_.test_delay_per_file.count() > 0) std::this_thread::sleep_for(ctx_.test_delay_per_file);
    FileEntry& entry = ctx_.layout.file(index);
    if (entry.error_length != 0) return publish_error(index, std::string(ctx_.layout.open_error(entry)));
    const bool member = entry.zip_member >= 0;
    // A file is read at its size now; a member (inflated whole, its CRC-32 checked) at its listed size.
    if (std::string error =
            input_.open(std::string(ctx_.layout.path(entry)), entry.zip_member, ctx_.layout.source(entry), entry.size);
        !error.empty())
      return publish_error(index, error);
    const std::uint64_t size = input_.size();
    if (!allocator_.fits(size))
      return publish_error(index, fmt::format("{} of {} bytes is larger than --max-file-size ({} bytes)",
                                              member ? "member" : "file", size, pool().largest_chunk()));
    const ipc::ChunkHandle h = acquire(size == 0 ? 1 : size, index);
    if (std::string full = reserve(h, size); !full.empty()) {
      require(allocator_.recycle(h), "recycle of a raw chunk this reader fills");
      return publish_error(index, full);
    }
    std::uint64_t got = 0;
    if (std::string error = input_.read(std::span(pool().data(h), size), got); !error.empty()) {
      require(allocator_.recycle(h), "recycle of a raw chunk this reader fills");
      return publish_error(index, error);
    }
    input_.close();
    finish_read(index, entry, h, got);
  }

  // Common end of a read: padding, content hash, skip-if-loaded, hand-over.
  void finish_read(std::uint64_t index, FileEntry& entry, ipc::ChunkHandle h, std::uint64_t done) {
    std::byte* data = pool().data(h);
    std::memset(data + done, 0, ipc::kTailPadding);  // simdjson's padding, never uninitialised
    const std::uint64_t hash = XXH3_64bits(data, done);
    entry.size = done;
    entry.content_hash = hash;
    ctx_.slot.add(counter::kBytesRead, done);
    for (std::uint8_t k = 0; k < entry.known_count && !entry.reload; ++k) {
      if (entry.known_hashes[k] == hash) {
        entry.resolved = entry.known_datasets[k];
        require(allocator_.recycle(h), "recycle of an unpublished raw chunk");  // FILLING -> FREE
        ctx_.slot.add(counter::kFilesSkipped, 1);
        ctx_.slot.add(counter::kBytesDone, done);
        return;
      }
    }
    ctx_.slot.add(counter::kFilesRead, 1);
    if (entry.known_count > 0) ctx_.slot.add(counter::kFilesChanged, 1);
    publish(h, done, index);
  }

  StageContext& ctx_;
  ipc::SharedSegment pool_segment_;
  ipc::ChunkAllocator allocator_;
  InputReader input_;                       // files and zip members; archives opened once per reader
  std::vector<std::uint64_t> outstanding_;  // bytes handed to each parser and not yet returned
  std::uint64_t window_ = 0;                // the most one parser may hold of this pool
};

}  // namespace

int reader_main(int argc, char** argv) {
  return run_stage("edgarpipe-reader", argc, argv, Role::kReader, [](StageContext& ctx) { Reader(ctx).run(); });
}

}  // namespace edgarpipe
