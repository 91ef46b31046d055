#include "metrics.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <utility>

namespace edgarpipe {

namespace {

std::string prometheus_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void MetricsFile::update(const PipelineLayout& layout, std::span<const ipc::ChunkPool> raw_pools,
                         std::span<const ipc::ChunkPool> batch_pools, const RunSummary& summary) {
  const ControlHeader& h = layout.header();
  auto sum = [&](std::uint32_t c) {
    std::uint64_t n = 0;
    for (std::uint32_t s = 0; s < layout.slot_count(); ++s) n += layout.slot(s).get(c);
    return n;
  };
  // Earlier attempts of this run (restarts, the second pass) count too.
  MetricTotals t;
  t.input_files = summary.files_seen;
  t.loaded = summary.files_loaded + sum(counter::kFilesLoaded);
  t.rejected = summary.files_rejected + sum(counter::kFilesRejected);
  t.skipped = summary.files_skipped + sum(counter::kFilesSkipped);
  t.bytes = summary.bytes + sum(counter::kBytesRead);
  for (std::uint32_t k = 0; k < kTableCount; ++k) t.rows[k] = summary.rows[k] + sum(counter::kRowsFirst + k);

  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  struct Process {
    std::string labels;
    Role role;
    const ipc::ProcessSlot* slot;
  };
  std::vector<Process> processes;
  for (std::uint32_t s = 0; s < layout.slot_count(); ++s) {
    const auto& slot = layout.slot(s);
    const auto role = static_cast<Role>(slot.role.load());
    processes.push_back({fmt::format("stage=\"{}\",process=\"{}\"", role_name(role), slot.index.load()), role, &slot});
  }
  family("edgarpipe_stage_wait_seconds_total", "counter",
         "Time each stage process slept, waiting for input or for room downstream.");
  for (const Process& p : processes)
    for (const auto& [reason, c] :
         {std::pair{"input", counter::kWaitInputNs}, std::pair{"output", counter::kWaitOutputNs}})
      out += fmt::format("edgarpipe_stage_wait_seconds_total{{{},reason=\"{}\"}} {:.6f}\n", p.labels, reason,
                         static_cast<double>(p.slot->get(c)) / 1e9);
  // Per process: what went through it, so each stage's share of the run's totals shows.
  family("edgarpipe_stage_files_total", "counter",
         "Files through each process: read or skipped (reader), parsed (parser), committed (writer).");
  for (const Process& p : processes) {
    const std::uint64_t files =
        p.role == Role::kReader   ? p.slot->get(counter::kFilesRead) + p.slot->get(counter::kFilesSkipped)
        : p.role == Role::kParser ? p.slot->get(counter::kFilesParsed)
                                  : p.slot->get(counter::kFilesLoaded) + p.slot->get(counter::kFilesRejected);
    out += fmt::format("edgarpipe_stage_files_total{{{}}} {}\n", p.labels, files);
  }
  family("edgarpipe_stage_bytes_total", "counter", "Bytes of JSON read by each reader.");
  for (const Process& p : processes)
    if (p.role == Role::kReader)
      out += fmt::format("edgarpipe_stage_bytes_total{{{}}} {}\n", p.labels, p.slot->get(counter::kBytesRead));
  family("edgarpipe_stage_rows_total", "counter", "Rows committed by each writer.");
  for (const Process& p : processes) {
    if (p.role != Role::kWriter) continue;
    std::uint64_t rows = 0;
    for (std::uint32_t k = 0; k < kTableCount; ++k) rows += p.slot->get(counter::kRowsFirst + k);
    out += fmt::format("edgarpipe_stage_rows_total{{{}}} {}\n", p.labels, rows);
  }
  // Pool occupancy from the ownership records: chunks being filled, queued, or held by a
  // consumer (FREE and RETURNED ones are back with their producer).
  std::string capacity;
  family("edgarpipe_pool_chunks_in_use", "gauge", "Chunks of the shared-memory pools being filled, queued or held.");
  for (const auto& [handoff, pools] : {std::pair{"raw", raw_pools}, std::pair{"batch", batch_pools}}) {
    std::uint64_t total = 0, in_use = 0;
    for (const ipc::ChunkPool& pool : pools)
      for (std::uint32_t i = 0; i < pool.chunk_count(); ++i, ++total) {
        const auto state = ipc::ChunkDescriptor::state_of(
            pool.descriptor(static_cast<std::uint16_t>(i)).state.load(std::memory_order_relaxed));
        in_use += state == ipc::ChunkState::kFilling || state == ipc::ChunkState::kPublished ||
                  state == ipc::ChunkState::kClaimed;
      }
    out += fmt::format("edgarpipe_pool_chunks_in_use{{handoff=\"{}\"}} {}\n", handoff, in_use);
    capacity += fmt::format("edgarpipe_pool_chunks_capacity{{handoff=\"{}\"}} {}\n", handoff, total);
  }
  family("edgarpipe_pool_chunks_capacity", "gauge", "Chunks of the shared-memory pools in all.");
  out += capacity;
  family("edgarpipe_ring_entries", "gauge", "Chunk handles waiting in rings, by hand-off.");
  std::uint64_t raw = 0, batch = 0;
  for (std::uint32_t r = 0; r < h.readers; ++r)
    for (std::uint32_t p = 0; p < h.parsers; ++p) raw += layout.raw(r, p).size_approx();
  for (std::uint32_t p = 0; p < h.parsers; ++p)
    for (std::uint32_t w = 0; w < h.writers; ++w) batch += layout.batch(p, w).size_approx();
  out += fmt::format("edgarpipe_ring_entries{{handoff=\"raw\"}} {}\nedgarpipe_ring_entries{{handoff=\"batch\"}} {}\n",
                     raw, batch);
  process_metrics_ = out;
  write(t, summary.run_id, false);
}

void MetricsFile::finish(const RunSummary& summary) {
  MetricTotals t;
  t.input_files = summary.files_seen;
  t.loaded = summary.files_loaded;
  t.rejected = summary.files_rejected;
  t.skipped = summary.files_skipped;
  t.bytes = summary.bytes;
  for (std::size_t k = 0; k < kTableCount; ++k) t.rows[k] = summary.rows[k];
  write(t, summary.run_id, true);
}

void MetricsFile::write(const MetricTotals& t, std::int64_t run_id, bool finished) const {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("edgarpipe_run_info", "gauge", "The run these metrics describe.");
  out += fmt::format("edgarpipe_run_info{{run_id=\"{}\",sink=\"{}\"}} 1\n", run_id, prometheus_escape(sink_));
  family("edgarpipe_run_finished", "gauge", "1 once the run has ended (see edgarpipe_run_info and the summary).");
  out += fmt::format("edgarpipe_run_finished {}\n", finished ? 1 : 0);
  family("edgarpipe_metrics_written_timestamp_seconds", "gauge", "When this file was written (Unix time).");
  out += fmt::format("edgarpipe_metrics_written_timestamp_seconds {}\n", std::time(nullptr));
  family("edgarpipe_input_files", "gauge", "Input files of this run.");
  out += fmt::format("edgarpipe_input_files {}\n", t.input_files);
  family("edgarpipe_files_total", "counter", "Files finished, by outcome.");
  out += fmt::format("edgarpipe_files_total{{outcome=\"loaded\"}} {}\n", t.loaded);
  out += fmt::format("edgarpipe_files_total{{outcome=\"rejected\"}} {}\n", t.rejected);
  out += fmt::format("edgarpipe_files_total{{outcome=\"skipped\"}} {}\n", t.skipped);
  family("edgarpipe_bytes_read_total", "counter", "Bytes of JSON read by the readers.");
  out += fmt::format("edgarpipe_bytes_read_total {}\n", t.bytes);
  family("edgarpipe_rows_total", "counter", "Rows written, by table.");
  for (std::uint32_t k = 0; k < kTableCount; ++k)
    out += fmt::format("edgarpipe_rows_total{{table=\"{}\"}} {}\n", table_def(static_cast<TableId>(k)).name, t.rows[k]);
  out += process_metrics_;
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp);
    f << out;
    if (!f) return;  // a metrics file must never stop a load
  }
  std::rename(tmp.c_str(), path_.c_str());
}

}  // namespace edgarpipe
