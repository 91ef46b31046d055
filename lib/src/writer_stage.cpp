// Writer stage: applies row batches from every parser to the sink, file by file, in large
// transactions committed only between files. A rejected file leaves nothing but its
// ingest_files row; its reason is printed once, here, with the file's path.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "edgarpipe/sink.hpp"
#include "edgarpipe/stage_context.hpp"
#include "edgarpipe/stages.hpp"

namespace edgarpipe {

namespace {

using Clock = std::chrono::steady_clock;

class Writer {
 public:
  explicit Writer(StageContext& ctx) : ctx_(ctx) {
    const ControlHeader& h = ctx.layout.header();
    for (std::uint32_t p = 0; p < h.parsers; ++p) {
      segments_.push_back(
          std::make_unique<ipc::SharedSegment>(ipc::open_pool_segment(PipelineLayout::batch_pool_name(h.run_name, p))));
      pools_.push_back(ipc::ChunkPool::attach(segments_.back()->base()));
    }
    sink_ = open_sink_writer(parse_sink_url(h.sink), h.run_id);
  }

  void run() {
    const ControlHeader& h = ctx_.layout.header();
    ctx_.mark_started();
    std::uint32_t next = 0;
    last_commit_ = Clock::now();
    for (;;) {
      bool progressed = false;
      for (std::uint32_t n = 0; n < h.parsers; ++n) {
        const std::uint32_t p = sticky_parser_ != kNone ? sticky_parser_ : (next + n) % h.parsers;
        std::uint64_t handle;
        if (ctx_.layout.batch(p, ctx_.index).try_peek(handle)) {
          apply(p, handle);
          progressed = true;
          next = p + 1;
          break;
        }
        if (sticky_parser_ != kNone) break;  // a file is open: only its parser may continue it
      }
      if (progressed) {
        maybe_commit(kCommitInterval);
        continue;
      }
      maybe_commit(kIdleCommitInterval);
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      if (sticky_parser_ == kNone && inputs_done()) break;
      ctx_.wait(key, StageContext::WaitFor::kInput);
    }
    commit();
  }

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  static constexpr auto kCommitInterval = std::chrono::seconds(2);
  static constexpr auto kIdleCommitInterval = std::chrono::milliseconds(500);

  bool inputs_done() const {
    const ControlHeader& h = ctx_.layout.header();
    for (std::uint32_t p = 0; p < h.parsers; ++p)
      if (ctx_.layout.slot(ctx_.layout.slot_of(Role::kParser, p)).current_phase() != ipc::ProcessPhase::kFinished)
        return false;
    for (std::uint32_t p = 0; p < h.parsers; ++p)
      if (ctx_.layout.batch(p, ctx_.index).size_approx() != 0) return false;
    return true;
  }

  // Commits only between files: a COMMIT inside a file would release its savepoint and split
  // the file across transactions.
  void maybe_commit(Clock::duration interval) {
    if (file_open_ || !pending_) return;
    if (Clock::now() - last_commit_ >= interval || sink_->wants_commit()) commit();
  }

  void apply(std::uint32_t parser, std::uint64_t handle) {
    const ipc::ChunkPool& pool = pools_[parser];
    // Claim, then take the handle off the ring (see the parser stage: no instant without an owner).
    if (!pool.claim(handle, ctx_.me)) throw std::runtime_error("batch chunk handed over twice or stale");
    ctx_.layout.batch(parser, ctx_.index).pop();
    const ipc::ChunkDescriptor& d = pool.descriptor_of(handle);
    RowBatchReader reader(pool.data(handle), d.length);
    Record record;
    while (reader.next(record)) {
      switch (record.kind) {
        case RecordKind::kFileBegin:
          sink_->begin_file(meta_of(record.file_index));
          file_open_ = true;
          pending_ = true;
          break;
        case RecordKind::kRow:
          reader.skip_to(sink_->row(record.table, record.values));
          break;
        case RecordKind::kEncodedRow:
          sink_->encoded_row(record.table, record.encoded);
          break;
        case RecordKind::kFileEnd:
          end_file(record.end);
          break;
      }
    }
    sticky_parser_ = file_open_ ? parser : kNone;
    pool.retire(handle, ctx_.me);
    ctx_.layout.batch_return(parser, ctx_.index).try_push(handle);
    ctx_.layout.bell(ctx_.layout.slot_of(Role::kParser, parser)).ring();
  }

  FileMeta meta_of(std::uint32_t file_index) const {
    const FileEntry& entry = ctx_.layout.file(file_index);
    FileMeta meta;
    meta.file_index = file_index;
    meta.source_file = ctx_.layout.source(entry);
    meta.bytes = entry.size;
    meta.content_hash = entry.content_hash;
    meta.replaces = entry.known_count > 0;  // read although loaded before: changed, or --force
    return meta;
  }

  void end_file(const FileEndInfo& end) {
    const FileMeta meta = meta_of(end.file_index);
    if (ctx_.test_delay_per_file.count() > 0) std::this_thread::sleep_for(ctx_.test_delay_per_file);
    sink_->end_file(end, meta);
    file_open_ = false;
  }

  // Counters and reject lines follow what was made durable, not what was merely applied.
  void commit() {
    const CommitReport report = sink_->commit();
    pending_ = false;
    last_commit_ = Clock::now();
    ctx_.slot.add(counter::kFilesLoaded, report.files_loaded);
    ctx_.slot.add(counter::kFilesRejected, report.files_rejected);
    for (std::size_t t = 0; t < kTableCount; ++t)
      ctx_.slot.add(counter::kRowsFirst + static_cast<std::uint32_t>(t), report.rows_by_table[t]);
    for (const Rejection& r : report.rejections) {
      const FileEntry& entry = ctx_.layout.file(r.file_index);
      if (entry.zip_member >= 0)
        fmt::print(stderr, "edgarpipe: rejected {}:{}: {}\n", ctx_.layout.path(entry), ctx_.layout.source(entry),
                   r.error);
      else
        fmt::print(stderr, "edgarpipe: rejected {}: {}\n", ctx_.layout.path(entry), r.error);
    }
  }

  StageContext& ctx_;
  std::vector<std::unique_ptr<ipc::SharedSegment>> segments_;
  std::vector<ipc::ChunkPool> pools_;
  std::unique_ptr<SinkWriter> sink_;
  std::uint32_t sticky_parser_ = kNone;
  bool file_open_ = false;
  bool pending_ = false;
  Clock::time_point last_commit_;
};

}  // namespace

int writer_main(int argc, char** argv) {
  return run_stage("edgarpipe-writer", argc, argv, Role::kWriter, [](StageContext& ctx) { Writer(ctx).run(); });
}

}  // namespace edgarpipe
