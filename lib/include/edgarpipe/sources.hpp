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
  std::string path;         // to open
  std::string source_file;  // as recorded in ingest_files: relative to the directory argument,
                            // or the file name for a file argument
  std::uint64_t size = 0;
  Dataset hint = Dataset::kUnknown;         // --dataset, else a directory named like a dataset
  bool forced = false;                      // hint came from --dataset
  std::vector<std::uint64_t> known_hashes;  // content hashes already loaded (filled by the caller)
};

// Directories are walked recursively for *.json files (in sorted order); files are taken as given.
// A path given twice (or reached twice) is loaded once. Throws UsageError for a missing path.
std::vector<InputFile> enumerate_inputs(const std::vector<std::string>& paths, Dataset forced);

}  // namespace edgarpipe
