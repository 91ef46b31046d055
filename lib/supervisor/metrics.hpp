// --metrics-file: the run's counters for Prometheus (docs/operations.md). Internal to
// lib/supervisor/.
//
// The Prometheus text exposition format, written to a temporary file and renamed so a
// collector never reads half a file. Each family's HELP and TYPE come once, followed by all its
// samples (the format's rule). While the stages run, the counters come from their
// shared-memory slots; when the run ends, the file is written once more from the summary, with
// edgarpipe_run_finished 1 and the processes' last figures.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "edgarpipe/core/tables.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/stages/pipeline_layout.hpp"
#include "run_summary.hpp"

namespace edgarpipe {

class MetricsFile {
 public:
  MetricsFile(std::string path, std::string sink) : path_(std::move(path)), sink_(std::move(sink)) {}
  // While an attempt runs: `summary` holds the earlier attempts' totals, the stages' slots this
  // attempt's; the per-process families come from the slots, the pools and the rings.
  void update(const PipelineLayout& layout, std::span<const ipc::ChunkPool> raw_pools,
              std::span<const ipc::ChunkPool> batch_pools, const RunSummary& summary);
  // Once the run has ended: totals from the summary, the processes' last figures.
  void finish(const RunSummary& summary);

 private:
  struct MetricTotals {
    std::uint64_t input_files = 0, loaded = 0, rejected = 0, skipped = 0, bytes = 0;
    std::uint64_t rows[kTableCount] = {};
  };
  void write(const MetricTotals& t, std::int64_t run_id, bool finished) const;

  std::string path_, sink_;
  std::string process_metrics_;  // the per-process families of the last update
};

}  // namespace edgarpipe
