// Parser stage: takes raw chunks from every reader, parses each file in place (simdjson reads the
// reader's chunk where it lies) and writes its rows into row-batch chunks of its own pool, which
// it hands to writers. A file's records that span several batch chunks go to the same writer.
#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/parse/edgar_parser.hpp"
#include "edgarpipe/stages/entry_points.hpp"
#include "edgarpipe/stages/stage_context.hpp"

namespace edgarpipe {

namespace {

class Parser final : public RowBatchWriter::Output {
 public:
  explicit Parser(StageContext& ctx) : ctx_(ctx), batches_(*this, ctx.layout.header().batch_encoding) {
    const ControlHeader& h = ctx.layout.header();
    for (std::uint32_t r = 0; r < h.readers; ++r) {
      raw_segments_.push_back(std::make_unique<ipc::SharedSegment>(
          ipc::open_pool_segment(PipelineLayout::raw_pool_name(h.run_name, r), ipc::PoolRole::kConsumer)));
      raw_pools_.push_back(ipc::ChunkPool::attach(raw_segments_.back()->base()));
    }
    batch_segment_ = std::make_unique<ipc::SharedSegment>(
        ipc::open_pool_segment(PipelineLayout::batch_pool_name(h.run_name, ctx.index), ipc::PoolRole::kProducer));
    allocator_ = std::make_unique<ipc::ChunkAllocator>(ipc::ChunkPool::attach(batch_segment_->base()));
    outstanding_.assign(h.writers, 0);
    const ipc::SizeClass batch = pool().size_class(0);
    window_ = std::max<std::uint64_t>(batch.chunk_bytes, batch.chunk_bytes * batch.count / h.writers);
  }

  void run() {
    const ControlHeader& h = ctx_.layout.header();
    ctx_.mark_started();
    start_batch(false);
    std::uint32_t next_reader = 0;
    for (;;) {
      bool progressed = false;
      for (std::uint32_t n = 0; n < h.readers; ++n) {
        const std::uint32_t r = (next_reader + n) % h.readers;
        std::uint64_t handle;
        if (ctx_.layout.raw(r, ctx_.index).try_peek(handle)) {
          process(r, handle);
          progressed = true;
          next_reader = r + 1;
          break;
        }
      }
      drain_returns();
      if (progressed) continue;
      // Idle: send what is batched so writers are never waiting on a half-full chunk.
      if (!batches_.empty()) send_current();
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      if (inputs_done()) break;
      bool any = false;
      for (std::uint32_t r = 0; r < h.readers && !any; ++r) any = ctx_.layout.raw(r, ctx_.index).size_approx() != 0;
      if (!any) ctx_.wait(key, StageContext::WaitFor::kInput);
    }
    if (!batches_.empty())
      send(batches_.used(), RowBatchWriter::kNoOpenFile);
    else
      require(allocator_->recycle(current_), "recycle of an unused batch chunk");
  }

  // RowBatchWriter::Output: the current chunk is full.
  std::span<std::byte> flush(std::size_t used, std::size_t open_file_at) override {
    if (used == 0) return current_span();  // one record alone is larger than a chunk
    send(used, open_file_at);
    start_batch(open_file_at != RowBatchWriter::kNoOpenFile);
    return current_span();
  }

 private:
  const ipc::ChunkPool& pool() const noexcept { return allocator_->pool(); }
  std::span<std::byte> current_span() const noexcept {
    return {pool().data(current_), pool().descriptor_of(current_).capacity};
  }

  bool inputs_done() const {
    const ControlHeader& h = ctx_.layout.header();
    for (std::uint32_t r = 0; r < h.readers; ++r) {
      const auto phase = ctx_.layout.slot(ctx_.layout.slot_of(Role::kReader, r)).current_phase();
      if (phase != ipc::ProcessPhase::kFinished) return false;
    }
    // Acquire on the phases above orders these reads after the readers' last pushes.
    for (std::uint32_t r = 0; r < h.readers; ++r)
      if (ctx_.layout.raw(r, ctx_.index).size_approx() != 0) return false;
    return true;
  }

  void drain_returns() {
    for (std::uint32_t w = 0; w < outstanding_.size(); ++w) {
      std::uint64_t handle;
      while (ctx_.layout.batch_return(ctx_.index, w).try_pop(handle)) {
        outstanding_[w] -= pool().descriptor_of(handle).length;
        require(allocator_->recycle(handle), "recycle of a returned batch chunk");
      }
    }
  }

  // A new file's chunk may not take the last free chunk; only a continuation may. The writer a
  // continuation goes to is pinned to this parser once it reaches the file, and returns its
  // chunks in order, so a file in progress can always finish with that reserve, even while other
  // writers sit pinned to other parsers with some of this parser's chunks queued (or held at a
  // file boundary) behind them (no cycle of waits; docs/design/shared-memory.md).
  void start_batch(bool continuation) {
    const std::uint64_t size = pool().size_class(0).chunk_bytes;
    for (;;) {
      if (continuation || allocator_->free_count() >= 2) {
        if (auto h = allocator_->acquire(size, ctx_.me)) {
          current_ = *h;
          batches_.reset(current_span());
          return;
        }
      }
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      const std::uint32_t before = allocator_->free_count();
      drain_returns();
      if (allocator_->free_count() != before) continue;
      ctx_.wait(key, StageContext::WaitFor::kOutput);  // backpressure: the batch chunks are with writers
    }
  }

  // Like the reader's routing: the least loaded writer under its window (StageContext::
  // least_loaded). A continuation goes to its pinned writer regardless: that writer is waiting
  // for exactly this chunk.
  std::uint32_t choose_writer(std::size_t used) {
    if (sticky_writer_ != kNone) return sticky_writer_;
    for (;;) {
      const std::uint32_t target = ctx_.least_loaded(Role::kWriter, outstanding_, used, window_);
      if (target != StageContext::kNoConsumer) return target;
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      const std::uint32_t before = allocator_->free_count();
      drain_returns();
      if (allocator_->free_count() == before) ctx_.wait(key, StageContext::WaitFor::kOutput);
    }
  }

  // The chunk's tag tells the writer where the file that continues in the next chunk begins
  // (RowBatchWriter::kNoOpenFile: none), so it can take the whole files before it and serve
  // another parser instead of waiting on this one mid-file.
  void send(std::size_t used, std::size_t open_file_at) {
    const std::uint32_t target = choose_writer(used);
    pool().descriptor_of(current_).tag = open_file_at;
    require(pool().publish(current_, used, ctx_.me), "publish of a batch chunk this parser fills");
    outstanding_[target] += used;
    ctx_.add_load(Role::kWriter, target, used);
    require(ctx_.layout.batch(ctx_.index, target).try_push(current_), "push onto a batch ring (capacity >= chunks)");
    ctx_.layout.bell(ctx_.layout.slot_of(Role::kWriter, target)).ring();
    sticky_writer_ = open_file_at != RowBatchWriter::kNoOpenFile ? target : kNone;
    current_ = 0;
  }

  void send_current() {
    send(batches_.used(), RowBatchWriter::kNoOpenFile);
    start_batch(false);
  }

  void process(std::uint32_t reader, std::uint64_t handle) {
    const ipc::ChunkPool& raw = raw_pools_[reader];
    // Claim before the handle leaves the ring: at every instant the chunk is either in the ring or
    // recorded as ours, so a recovery scan after a kill finds it.
    if (!raw.claim(handle, ctx_.me)) throw std::runtime_error("raw chunk handed over twice or stale");
    ctx_.layout.raw(reader, ctx_.index).pop();
    const ipc::ChunkDescriptor& d = raw.descriptor_of(handle);
    const std::uint64_t file_index = d.tag & ~kReadErrorTag;
    const FileEntry& entry = ctx_.layout.file(file_index);
    const char* data = reinterpret_cast<const char*>(raw.data(handle));

    batches_.begin_file(static_cast<std::uint32_t>(file_index));
    FileEndInfo end;
    end.file_index = static_cast<std::uint32_t>(file_index);
    ParseOutcome outcome;
    // The source name (a zip member's name, or the file's path below its directory argument)
    // carries the overflow-page pattern and the CIK.
    const std::string path = ctx_.layout.source(entry);
    if (d.tag & kReadErrorTag) {
      outcome.error = std::string(data, d.length);
      outcome.dataset = entry.hint;
      outcome.cik = parse_file_name(path).cik;
      if (parse_file_name(path).overflow_page) outcome.dataset = Dataset::kSubmissions;
    } else {
      if (!ctx_.test_crash_on.empty() && path.find(ctx_.test_crash_on) != std::string_view::npos) {
        ::signal(SIGSEGV, SIG_DFL);  // a plain crash, also under a sanitizer's own SEGV handler
        ::raise(SIGSEGV);
      }
      outcome = parser_.parse(data, d.length, d.length + ipc::kTailPadding, path, entry.hint, entry.forced, batches_);
    }
    end.dataset = outcome.dataset;
    end.cik = outcome.cik;
    end.rows = outcome.rows;
    end.unknown_columns = outcome.unknown_columns;
    end.error_offset = outcome.error_offset;
    end.error = outcome.error;
    if (outcome.ok) {
      end.status = FileStatus::kLoaded;
      batches_.end_file(end);
    } else {
      end.status = FileStatus::kRejected;
      batches_.reject_file(end);
    }
    ctx_.slot.add(counter::kFilesParsed, 1);
    ctx_.slot.add(counter::kUnknownColumns, outcome.unknown_columns);

    // Done with the file's bytes: give the chunk back to its reader.
    ctx_.drop_load(d.length);
    require(raw.retire(handle, ctx_.me), "retire of a raw chunk this parser claimed");
    require(ctx_.layout.raw_return(reader, ctx_.index).try_push(handle), "push onto a raw return ring");
    ctx_.layout.bell(ctx_.layout.slot_of(Role::kReader, reader)).ring();
  }

  static constexpr std::uint32_t kNone = UINT32_MAX;
  StageContext& ctx_;
  std::vector<std::unique_ptr<ipc::SharedSegment>> raw_segments_;
  std::vector<ipc::ChunkPool> raw_pools_;
  std::unique_ptr<ipc::SharedSegment> batch_segment_;
  std::unique_ptr<ipc::ChunkAllocator> allocator_;
  std::vector<std::uint64_t> outstanding_;  // batch bytes with each writer
  std::uint64_t window_ = 0;                // the most one writer may hold of this pool
  EdgarParser parser_;
  RowBatchWriter batches_;
  ipc::ChunkHandle current_ = 0;
  std::uint32_t sticky_writer_ = kNone;
};

}  // namespace

int parser_main(int argc, char** argv) {
  return run_stage("edgarpipe-parser", argc, argv, Role::kParser, [](StageContext& ctx) { Parser(ctx).run(); });
}

}  // namespace edgarpipe
