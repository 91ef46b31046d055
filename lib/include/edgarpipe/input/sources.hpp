// Input enumeration: turns the PATH arguments of `edgarpipe run` into the list of files to load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/core/tables.hpp"

namespace edgarpipe {

struct InputFile {
  std::string path;         // to open (for a zip member: the archive)
  std::string source_file;  // the name as found: relative to the directory argument, the member's
                            // name in an archive, or the file name for a file argument
  std::string source_path;  // where it is read from, for operators (ingest_files.source_path): the
                            // canonical path, or the canonical archive path, ':' and the member
  std::uint64_t size = 0;
  Dataset hint = Dataset::kUnknown;  // --dataset, else a directory named like a dataset, else (after
                                     // resolve_identities) the kind its content was found to be
  bool forced = false;               // hint came from --dataset
  // Its key in ingest_files, with the dataset: the CIK and page of its SEC file name, or for a
  // renamed file (no SEC name) the document's own cik and page 0. -1: not known before parsing.
  std::int64_t key_cik = -1;
  std::int32_t key_page = -1;
  struct Known {
    Dataset dataset;
    std::uint64_t hash;
  };
  std::vector<Known> known;      // content already loaded under its key (filled by the caller)
  bool reload = false;           // load even if its hash is loaded (--force)
  std::int64_t zip_member = -1;  // index in the archive's central directory, or -1
  std::string open_error;        // set when the input cannot be read at all (a corrupt archive),
                                 // or its key is given twice with different content: the file is
                                 // rejected with this reason
  std::uint32_t origin = 0;      // its index among the run's inputs (the supervisor's bookkeeping)
};

// --max-file-size's default: the largest input carried whole, in MiB.
inline constexpr std::uint64_t kDefaultMaxFileMiB = 256;

struct InputOptions {
  Dataset forced = Dataset::kUnknown;
  // Zip members: the largest compression ratio accepted (a larger one is a zip bomb and is
  // rejected without inflating). Sizes are checked against --max-file-size by the readers.
  double max_compression_ratio = 200;
  // --shard I/N: keep the deterministic share I of N, grouped by the CIK in the file name so a
  // filer's main file and overflow pages land in the same shard. N = 1: everything.
  std::uint32_t shard_index = 0, shard_count = 1;
};

// Directories are walked recursively for *.json files (in sorted order) and *.zip archives; zip
// archives contribute their *.json members (nothing is extracted to disk); other files are taken
// as given. A path given twice (or reached twice) is loaded once. Each input's key comes from its
// SEC file name where it has one. Throws UsageError for a missing path.
std::vector<InputFile> enumerate_inputs(const std::vector<std::string>& paths, const InputOptions& options);

// The content of an input (a file, or a zip member inflated), whole or its first `prefix` bytes,
// with kTailPadding zero bytes past it for the parser; `error` says why it could not be read (the
// bytes are then empty). A whole input larger than max_bytes is not read.
struct InputBytes {
  std::vector<char> bytes;  // size() = length + padding
  std::size_t length = 0;
  std::string error;
};
InputBytes read_input(const InputFile& file, std::uint64_t max_bytes, std::uint64_t prefix = UINT64_MAX);

// The shard (0..count-1) of a filer's inputs (by CIK; an input without one by its name).
std::uint32_t shard_of(const InputFile& file, std::uint32_t count) noexcept;

}  // namespace edgarpipe
