// Input enumeration: turns the PATH arguments of `edgarpipe run` into the list of files to load.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgarpipe/tables.hpp"

namespace edgarpipe {

// A usage problem the user can fix (exit status 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InputFile {
  std::string path;         // to open (for a zip member: the archive)
  std::string source_file;  // as recorded in ingest_files: relative to the directory argument,
                            // or the file name for a file argument
  std::uint64_t size = 0;
  Dataset hint = Dataset::kUnknown;         // --dataset, else a directory named like a dataset
  bool forced = false;                      // hint came from --dataset
  std::vector<std::uint64_t> known_hashes;  // content hashes already loaded (filled by the caller)
  bool reload = false;                      // load even if its hash is loaded (--force)
  std::int64_t zip_member = -1;             // index in the archive's central directory, or -1
  std::string open_error;                   // set when the input cannot be read at all (a corrupt
                                            // archive): the file is rejected with this reason
};

struct InputOptions {
  Dataset forced = Dataset::kUnknown;
  // Zip members: the largest compression ratio accepted (a larger one is a zip bomb and is
  // rejected without inflating). Sizes are checked against --max-file-size by the readers.
  double max_compression_ratio = 200;
  // --shard I/N: keep the deterministic share I of N, grouped by the CIK in the file name so a
  // filer's main file and overflow pages land in the same shard. N = 1: everything.
  std::uint32_t shard_index = 0, shard_count = 1;
};

// Directories are walked recursively for *.json files (in sorted order); zip archives (*.zip)
// contribute their *.json members (source_file = the member's name, which is only a name: nothing
// is extracted to disk); other files are taken as given. A path given twice (or reached twice) is
// loaded once. Throws UsageError for a missing path.
std::vector<InputFile> enumerate_inputs(const std::vector<std::string>& paths, const InputOptions& options);

// The shard (0..count-1) of a file: by the CIK in its name, else by its source name.
std::uint32_t shard_of(const std::string& source_file, std::uint32_t count) noexcept;

}  // namespace edgarpipe
