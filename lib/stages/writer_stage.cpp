// Writer stage: applies row batches from every parser to the sink, file by file, in large
// transactions committed only between files. A rejected file leaves nothing but its
// ingest_files row; its reason is printed once, here, with the file's path.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/stages/entry_points.hpp"
#include "edgarpipe/stages/stage_context.hpp"

namespace edgarpipe {

namespace {

using Clock = std::chrono::steady_clock;

class Writer {
 public:
  explicit Writer(StageContext& ctx) : ctx_(ctx) {
    const ControlHeader& h = ctx.layout.header();
    for (std::uint32_t p = 0; p < h.parsers; ++p) {
      segments_.push_back(std::make_unique<ipc::SharedSegment>(
          ipc::open_pool_segment(PipelineLayout::batch_pool_name(h.run_name, p), ipc::PoolRole::kConsumer)));
      pools_.push_back(ipc::ChunkPool::attach(segments_.back()->base()));
    }
    held_.resize(h.parsers);
    sink_ = open_sink_writer(parse_sink_url(h.sink), h.run_id);
  }

  void run() {
    ctx_.mark_started();
    last_commit_ = Clock::now();
    for (;;) {
      const std::uint32_t p = choose_parser();
      if (p != kNone) {
        apply(p);
        maybe_commit(kCommitInterval);
        continue;
      }
      maybe_commit(kIdleCommitInterval);
      const std::uint32_t key = ctx_.my_bell().prepare_wait();
      if (choose_parser() != kNone) continue;  // published between the look above and prepare_wait
      if (open_parser_ == kNone && inputs_done()) break;
      ctx_.wait(key, StageContext::WaitFor::kInput);
    }
    commit();
  }

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  static constexpr auto kCommitInterval = std::chrono::seconds(2);
  static constexpr auto kIdleCommitInterval = std::chrono::milliseconds(500);

  // A parser's chunk the writer stopped in at a file boundary: the records from `offset` on are
  // still to apply. At most one per parser; it stays claimed by this writer meanwhile.
  struct Held {
    std::uint64_t handle = 0;
    std::size_t offset = 0;
    bool present = false;
  };

  // Which parser to take records from next, or kNone when none has any. While a file is open
  // only its parser may continue (a sink has one file open at a time). Between files, round
  // robin over the parsers, preferring one whose next file is whole in the chunk at hand: a
  // file that continues in a chunk not written yet would make this writer wait on one parser
  // while the others' chunks pile up here and their parsers stall for want of chunks.
  std::uint32_t choose_parser() {
    if (open_parser_ != kNone) return has_input(open_parser_) ? open_parser_ : kNone;
    const auto parsers = static_cast<std::uint32_t>(held_.size());
    std::uint32_t fallback = kNone;
    for (std::uint32_t n = 0; n < parsers; ++n) {
      const std::uint32_t p = (next_parser_ + n) % parsers;
      if (!has_input(p)) continue;
      if (next_file_is_whole(p)) return p;
      if (fallback == kNone) fallback = p;
    }
    return fallback;
  }

  bool has_input(std::uint32_t p) {
    std::uint64_t handle;
    return held_[p].present || ctx_.layout.batch(p, ctx_.index).try_peek(handle);
  }

  // Whether the next file of parser p ends in the chunk at hand, or more chunks are queued
  // behind it (so continuing it does not wait on the parser).
  bool next_file_is_whole(std::uint32_t p) {
    auto& ring = ctx_.layout.batch(p, ctx_.index);
    if (held_[p].present) {
      const std::uint64_t open_at = pools_[p].descriptor_of(held_[p].handle).tag;
      return held_[p].offset < open_at || ring.size_approx() != 0;
    }
    std::uint64_t handle;
    if (!ring.try_peek(handle)) return false;
    // A chunk taken between files starts with a FileBegin: whole unless that file continues.
    return pools_[p].descriptor_of(handle).tag != 0 || ring.size_approx() > 1;
  }

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
    const auto since = Clock::now() - last_commit_;
    if (sink_->wants_commit() || (since >= interval && sink_->timed_commit_ready(since))) commit();
  }

  // Applies records of parser p's next chunk (or the one held for it) until the chunk ends, or
  // until a file boundary where the next file continues past the chunk: then the rest is held
  // and other parsers get their turn first.
  void apply(std::uint32_t parser) {
    const ipc::ChunkPool& pool = pools_[parser];
    Held& held = held_[parser];
    std::uint64_t handle = held.handle;
    std::size_t offset = held.offset;
    if (!held.present) {
      // Claim, then take the handle off the ring (see the parser stage: no instant without an owner).
      require(ctx_.layout.batch(parser, ctx_.index).try_peek(handle), "peek at a batch ring found non-empty");
      if (!pool.claim(handle, ctx_.me)) throw std::runtime_error("batch chunk handed over twice or stale");
      ctx_.layout.batch(parser, ctx_.index).pop();
      offset = 0;
    }
    held.present = false;
    const ipc::ChunkDescriptor& d = pool.descriptor_of(handle);
    RowBatchReader reader(pool.data(handle) + offset, d.length - offset);
    Record record;
    while (reader.next(record)) {
      switch (record.kind) {
        case RecordKind::kFileBegin:
          sink_->begin_file(meta_of(record.file_index, nullptr));
          file_open_ = true;
          pending_ = true;
          break;
        case RecordKind::kRow:
          reader.skip_to(sink_->row(record.table, record.values));
          break;
        case RecordKind::kEncodedRow:
          sink_->encoded_row(record.table, record.encoded);
          break;
        case RecordKind::kFileEnd: {
          end_file(record.end);
          const std::size_t at = static_cast<std::size_t>(reader.position() - pool.data(handle));
          if (at < d.length && at >= d.tag && held_.size() > 1) {
            held = Held{handle, at, true};  // the next file continues past this chunk
            open_parser_ = kNone;
            next_parser_ = parser + 1;
            return;
          }
          break;
        }
      }
    }
    open_parser_ = file_open_ ? parser : kNone;
    if (!file_open_) next_parser_ = parser + 1;
    ctx_.drop_load(d.length);
    require(pool.retire(handle, ctx_.me), "retire of a batch chunk this writer claimed");
    require(ctx_.layout.batch_return(parser, ctx_.index).try_push(handle), "push onto a batch return ring");
    ctx_.layout.bell(ctx_.layout.slot_of(Role::kParser, parser)).ring();
  }

  // What the sink needs of a file; with `end`, its key too (the parser has settled its dataset
  // and, for a file named without one, its CIK).
  FileMeta meta_of(std::uint32_t file_index, const FileEndInfo* end) const {
    const FileEntry& entry = ctx_.layout.file(file_index);
    FileMeta meta;
    meta.file_index = file_index;
    meta.source_path = ctx_.layout.source_path(entry);
    meta.bytes = entry.size;
    meta.content_hash = entry.content_hash;
    meta.source_stamp = entry.source_stamp;
    // Read although loaded before under its key: changed, or --force. A file that could not be
    // read at all (no content hash: unreadable, a broken link, a damaged zip member) says nothing
    // of its filer: the loaded rows stay, and its reject is recorded by path, not over the key's
    // 'loaded' row.
    const bool unread_over_loaded = entry.content_hash == 0 && entry.known_count > 0;
    for (std::uint8_t k = 0; k < entry.known_count && !unread_over_loaded; ++k)
      meta.replaces_in |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(entry.known_datasets[k]));
    if (end != nullptr) {
      // The name's key wins: a document whose cik disagrees with it is rejected under the name.
      meta.cik = unread_over_loaded ? -1 : entry.key_cik >= 0 ? entry.key_cik : end->cik;
      meta.page = unread_over_loaded ? -1 : entry.key_page >= 0 ? entry.key_page : meta.cik >= 0 ? 0 : -1;
      if (meta.cik >= 0) {
        meta.source_file = sec_file_name(meta.cik, meta.page);
      } else {
        const std::string found = ctx_.layout.source(entry);
        meta.source_file = std::string(found.substr(found.find_last_of('/') + 1));
      }
    }
    return meta;
  }

  void end_file(const FileEndInfo& end) {
    const FileMeta meta = meta_of(end.file_index, &end);
    if (ctx_.test_delay_per_file.count() > 0) std::this_thread::sleep_for(ctx_.test_delay_per_file);
    sink_->end_file(end, meta);
    ctx_.layout.file(end.file_index).resolved = end.dataset;
    uncommitted_bytes_ += meta.bytes;
    file_open_ = false;
  }

  // Counters and reject lines follow what was made durable, not what was merely applied.
  void commit() {
    const CommitReport report = sink_->commit();
    pending_ = false;
    last_commit_ = Clock::now();
    ctx_.slot.add(counter::kFilesLoaded, report.files_loaded);
    ctx_.slot.add(counter::kFilesRejected, report.files_rejected);
    ctx_.slot.add(counter::kFilesSkipped, report.files_loaded_elsewhere);
    if (report.files_loaded_elsewhere && !told_loaded_elsewhere_) {
      log::warning(
          "another run is loading the same inputs into this sink: the files it loads first are skipped here "
          "(counted as skipped)");
      told_loaded_elsewhere_ = true;
    }
    ctx_.slot.add(counter::kBytesDone, std::exchange(uncommitted_bytes_, 0));
    for (std::size_t t = 0; t < kTableCount; ++t)
      ctx_.slot.add(counter::kRowsFirst + static_cast<std::uint32_t>(t), report.rows_by_table[t]);
    for (const Rejection& r : report.rejections) {
      const FileEntry& entry = ctx_.layout.file(r.file_index);
      if (entry.zip_member >= 0)
        log::warning("rejected {}:{}: {}", ctx_.layout.path(entry), ctx_.layout.source(entry), r.error);
      else
        log::warning("rejected {}: {}", ctx_.layout.path(entry), r.error);
    }
  }

  StageContext& ctx_;
  std::vector<std::unique_ptr<ipc::SharedSegment>> segments_;
  std::vector<ipc::ChunkPool> pools_;
  std::unique_ptr<SinkWriter> sink_;
  std::vector<Held> held_;             // per parser
  std::uint32_t open_parser_ = kNone;  // the parser whose file is open here
  std::uint32_t next_parser_ = 0;      // where the round robin starts
  bool file_open_ = false;
  bool pending_ = false;
  bool told_loaded_elsewhere_ = false;   // warned once per writer
  std::uint64_t uncommitted_bytes_ = 0;  // of the files ended since the last commit
  Clock::time_point last_commit_;
};

}  // namespace

int writer_main(int argc, char** argv) {
  return run_stage("edgarpipe-writer", argc, argv, Role::kWriter, [](StageContext& ctx) { Writer(ctx).run(); });
}

}  // namespace edgarpipe
