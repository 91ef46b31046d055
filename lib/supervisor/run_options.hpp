// `edgarpipe run`'s options: parsed from the command line and --options files, and the pool
// sizes they give. Internal to lib/supervisor/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgarpipe/core/tables.hpp"
#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"
#include "edgarpipe/sink/sink.hpp"

namespace edgarpipe {

inline constexpr std::uint64_t kMiB = 1024 * 1024;

struct RunOptions {
  std::vector<std::string> paths;
  std::string sink = "sqlite:edgar.db";
  std::uint32_t readers = 1, parsers = 2, writers = 1;
  Dataset dataset = Dataset::kUnknown;
  std::uint64_t max_file_mib = kDefaultMaxFileMiB;
  std::uint64_t batch_kib = 1024;
  std::string summary_json;
  std::string progress = "auto";
  std::optional<std::uint32_t> progress_interval;  // seconds; default 1 on a terminal, 10 otherwise
  InputOptions inputs;
  std::optional<std::uint64_t> max_rejects;
  bool retry_rejected = false;
  bool force = false;
  bool verify = false;  // --verify: read and hash every input, even those whose source stamp is unchanged
  bool prune = false;
  double max_prune_fraction = 0.05;  // --prune deletes at most this share of a dataset's loaded filers
  bool no_indexes = false;           // --no-indexes: leave the secondary indexes to the operator
  // --index-memory: the index build's sort memory. Not more by default: smaller sorted runs, merged
  // after, built the filings indexes of 14.2M rows faster (SQLite 13.2 s at 64 MiB against 24.9 s
  // at 512 MiB, its sorter threads sorting runs at once; PostgreSQL 10.9 s against 13.7 s).
  std::uint64_t index_memory_mib = 64;
  std::optional<Storage> storage;  // --storage: for a fresh database (unset: row, or what it has)
  std::uint32_t max_restarts = 3;
  std::string metrics_file;
};

// Parses `edgarpipe run ...` (argv[0] the program, argv[1] "run"); throws UsageError naming the
// argument, and the --options file and line it came from.
RunOptions parse_run_options(int argc, char** argv);

// The chunk classes of a reader's raw pool and of a parser's batch pool, and a pool's chunks.
std::vector<ipc::SizeClass> raw_classes(std::uint64_t max_file_bytes);
std::vector<ipc::SizeClass> batch_classes(std::uint64_t chunk_bytes, std::uint32_t writers);
std::uint32_t chunk_total(const std::vector<ipc::SizeClass>& classes);

}  // namespace edgarpipe
