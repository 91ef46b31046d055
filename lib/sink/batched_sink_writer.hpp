// What the server sinks (PostgreSQL, SQL Server) share: the parsers encode their rows already
// (batch_encoding_for), and the sinks buffer each table's rows across many files and send them
// at commit, so they keep the same per-file bookkeeping and the same reconnect loop. A sink
// derives from this with its own row buffer (append(bytes), size(), truncate(n),
// clear_and_trim(keep)) and implements the commit itself and the three connection hooks.
//
// Private to lib/sink/: not part of the sink interface.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "edgarpipe/sink/sink.hpp"

namespace edgarpipe {

// A statement the server refused, and what kind of refusal it is: that decides between blaming
// a file (a data error: the batch is replayed file by file and the file is rejected), sending the
// batch again (a deadlock victim; a conflict) and ending the writer (anything else).
struct StatementError {
  std::string message;
  // About the rows sent, not the connection: SQLSTATE class 22 (data exception) or 23 (integrity
  // constraint violation) in PostgreSQL, a conversion or constraint message in SQL Server.
  bool data_error = false;
  int number = 0;         // SQL Server's message number; 0 for a client error, and in PostgreSQL
  bool deadlock = false;  // SQL Server chose this transaction as a deadlock victim (1205)
  // A duplicate key where another writer may have inserted the same row first (the concepts
  // dictionary): the batch is sent again, never blamed on a file.
  bool conflict = false;
};

template <class RowBuffer>
class BatchedSinkWriter : public SinkWriter {
 public:
  BatchedSinkWriter(std::string_view server, std::int64_t run_id, std::size_t commit_bytes)
      : server_(server), run_id_(run_id), commit_bytes_(commit_bytes) {}

  void begin_file(const FileMeta&) override {
    for (std::size_t t = 0; t < kTableCount; ++t) file_.start[t] = tables_[t].size();
    file_.rows = {};
  }

  // A row the parser encoded already, appended as it is.
  void encoded_row(TableId table, std::span<const std::byte> row) override {
    tables_[static_cast<std::size_t>(table)].append(row);
    ++file_.rows[static_cast<std::size_t>(table)];
  }
  // Values are encoded in one place, the parsers' RowBatchWriter: tagged rows never come here.
  const std::byte* row(TableId table, const std::byte*) override {
    throw SinkError(
        fmt::format("the {} writer takes encoded rows; a tagged {} row came", server_, table_def(table).name));
  }

  void end_file(const FileEndInfo& end, const FileMeta& meta) override {
    IngestRow ingest;
    ingest.file_index = meta.file_index;
    ingest.dataset = std::string(dataset_name(end.dataset));
    ingest.source_file = meta.source_file;
    ingest.source_path = std::string(meta.source_path);
    ingest.cik = meta.cik;
    ingest.page = meta.page;
    ingest.bytes = meta.bytes;
    ingest.content_hash = meta.content_hash;
    ingest.source_stamp = meta.source_stamp;
    ingest.rows = end.rows;
    ingest.loaded_at = utc_now();
    if (end.status == FileStatus::kLoaded) {
      for (std::size_t t = 0; t < kTableCount; ++t) file_.end[t] = tables_[t].size();
      ingest.span = spans_.size();
      spans_.push_back(file_);
    } else {
      for (std::size_t t = 0; t < kTableCount; ++t) tables_[t].truncate(file_.start[t]);
      ingest.loaded = false;
      ingest.error = describe_error(end.error, end.error_offset);
    }
    if (meta.replaces(end.dataset)) replaced_.emplace(end.dataset, meta.cik);
    ingest_.push_back(std::move(ingest));
  }

  bool wants_commit() const override {
    std::size_t bytes = 0;
    for (const auto& t : tables_) bytes += t.size();
    return bytes >= commit_bytes_;
  }

  // A lost connection (server restart, network) is retried with bounded backoff: reconnect, find
  // out whether the interrupted COMMIT went through (this run's ingest_files rows for the batch
  // are all there, or none are: one transaction), and send the batch again only if it did not.
  CommitReport commit() override {
    if (ingest_.empty()) return {};
    auto delay = std::chrono::milliseconds(250);
    const auto give_up = std::chrono::steady_clock::now() + kReconnectBudget;
    for (int attempt = 1;; ++attempt) {
      try {
        if (attempt > 1 && batch_committed()) return finish_commit();
        return try_commit();
      } catch (const SinkError& e) {
        if (!connection_broken()) throw;  // a real error, not a lost connection
        if (std::chrono::steady_clock::now() + delay > give_up)
          throw SinkError(fmt::format("lost the connection to {} and could not get it back after {} attempts: {}",
                                      server_, attempt, e.what()));
        fmt::print(stderr, "edgarpipe-writer: lost the connection to {} ({}); reconnecting in {} ms\n", server_,
                   e.what(), delay.count());
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(4000));
        try {
          reconnect();
        } catch (const SinkError&) {
          // still down: the next round waits longer
        }
      }
    }
  }

 protected:
  static constexpr auto kReconnectBudget = std::chrono::seconds(60);

  struct FileSpan {
    std::array<std::size_t, kTableCount> start{}, end{};
    std::array<std::uint64_t, kTableCount> rows{};
  };
  struct IngestRow {
    std::uint32_t file_index = 0;
    std::string dataset, source_file, source_path, error, loaded_at;
    std::int64_t cik = -1;  // the key, with dataset; -1: a key-less file
    std::int32_t page = -1;
    std::uint64_t bytes = 0, content_hash = 0, rows = 0, source_stamp = 0;
    bool loaded = true;
    bool loaded_elsewhere = false;  // refused, and another run loaded it meanwhile: no row of ours
    std::size_t span = 0;
  };

  // Sends and commits the buffered batch (every file whole or rejected), then finish_commit().
  virtual CommitReport try_commit() = 0;
  // Whether this run already committed the buffered batch (asked after a reconnect).
  virtual bool batch_committed() = 0;
  virtual bool connection_broken() const = 0;
  // A new connection with the session's preparation (staging tables...).
  virtual void reconnect() = 0;
  // The one number a query such as SELECT count(*) returns.
  virtual std::uint64_t count_of(const std::string& sql) = 0;

  // The database refused one of `file`'s rows (file by file, outside any failed statement): the
  // file is rejected, unless another run loaded the same document meanwhile (loaded_elsewhere_sql).
  void refused(IngestRow& file, const StatementError& e) {
    file.loaded = false;
    if (file.cik >= 0 && file.content_hash != 0 &&
        count_of(loaded_elsewhere_sql(file.dataset, file.cik, file.page, file.content_hash)) > 0)
      file.loaded_elsewhere = true;
    else
      file.error = fmt::format("{} a row: {}", kDatabaseRefused, e.message);
  }

  // Rows of `table` in the files buffered for the next commit.
  std::uint64_t rows_pending(TableId table) const {
    std::uint64_t n = 0;
    for (const auto& s : spans_) n += s.rows[static_cast<std::size_t>(table)];
    return n;
  }

  // Every buffered file at once.
  FileSpan whole_batch() const {
    FileSpan all;
    for (std::size_t t = 0; t < kTableCount; ++t) all.end[t] = tables_[t].size();
    for (const auto& s : spans_)
      for (std::size_t t = 0; t < kTableCount; ++t) all.rows[t] += s.rows[t];
    return all;
  }

  // The filers this batch touches, in CIK order, each with whether the batch replaces it: the
  // per-filer locks a batch takes before its rows (exclusive to replace, shared to insert), so
  // that a replacement and a concurrent writer's rows of the same filer cannot interleave.
  std::map<std::int64_t, bool> filers_to_lock() const {
    std::map<std::int64_t, bool> filers;
    for (const IngestRow& f : ingest_)
      if (f.cik >= 0) filers.emplace(f.cik, false);
    for (const auto& [dataset, cik] : replaced_)
      if (cik >= 0) filers[cik] = true;
    return filers;
  }

  // What the committed batch made durable; empties the buffers.
  CommitReport finish_commit() {
    CommitReport report;
    for (const IngestRow& file : ingest_) {
      if (file.loaded) {
        ++report.files_loaded;
        const FileSpan& span = spans_[file.span];
        for (std::size_t t = 0; t < kTableCount; ++t)
          if (t != static_cast<std::size_t>(TableId::kConcepts)) report.rows_by_table[t] += span.rows[t];
      } else if (file.loaded_elsewhere) {
        ++report.files_loaded_elsewhere;
      } else {
        ++report.files_rejected;
        report.rejections.push_back({file.file_index, file.error});
      }
    }
    report.rows_by_table[static_cast<std::size_t>(TableId::kConcepts)] = concepts_inserted_;
    // A table's buffer that grew past the commit size (a large file: commits fall between files;
    // and a string doubles as it grows) gives its memory back, so a writer's footprint stays
    // near the commit size instead of its high-water mark per table.
    for (auto& t : tables_) t.clear_and_trim(commit_bytes_ / 4);
    spans_.clear();
    ingest_.clear();
    replaced_.clear();
    return report;
  }

  std::string_view server_;  // "PostgreSQL", "SQL Server": for messages
  std::int64_t run_id_;
  std::size_t commit_bytes_;
  std::array<RowBuffer, kTableCount> tables_;
  std::vector<FileSpan> spans_;                          // files loaded so far in this transaction
  std::vector<IngestRow> ingest_;                        // every file ended since the last commit
  FileSpan file_;                                        // the open file
  std::set<std::pair<Dataset, std::int64_t>> replaced_;  // filers replaced by this batch's files
  std::uint64_t concepts_inserted_ = 0;                  // by the batch being committed
};

}  // namespace edgarpipe
