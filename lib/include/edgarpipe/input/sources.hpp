// Input enumeration: turns the PATH arguments of `edgarpipe run` into the list of files to load.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgarpipe/core/errors.hpp"
#include "edgarpipe/core/tables.hpp"

namespace edgarpipe {

// Where inputs were found. A run lists ~10^6 inputs, so an input holds no path of its own: its
// paths are its root's strings joined with its name, built when asked for.
struct InputRoot {
  enum class Kind : std::uint8_t {
    kDirectory,  // a directory holding *.json files: `open` and `canonical` end in '/'
    kArchive,    // a zip archive: its *.json members in one folder of it (a root per folder)
    kFile,       // one file: named on the command line, or a symlink met in a directory walk
  };
  Kind kind = Kind::kFile;
  std::string open;       // what to open: the directory as reached (with '/'), the archive, the file
  std::string canonical;  // the same, canonical (symlinks resolved)
  std::string prefix;     // the source_file of a name starts with it: the directory relative to the
                          // directory argument it was found under, or a member's folder in the
                          // archive, with '/' ("" elsewhere)
};

// One input: 72 bytes, its strings in the InputNames it was listed with.
struct InputFile {
  std::uint64_t size = 0;  // at enumeration time
  // What the listing saw of the source, hashed: a zip member's CRC-32 and sizes from the central
  // directory, or a file's size and modification time. Recorded with the file when it loads; an
  // input whose key is loaded with the same stamp is unchanged and is skipped without being read
  // (a rerun over a snapshot reads only what changed). 0: none (not compared).
  std::uint64_t source_stamp = 0;
  // Its key in ingest_files, with the dataset: the CIK and page of its SEC file name, or for a
  // renamed file (no SEC name) the document's own cik and page 0. -1: not known before parsing.
  std::int64_t key_cik = -1;
  // Content already loaded under its key, in each dataset (filled by the caller): one key has at
  // most one loaded row per dataset, and an input whose kind is not known may match either.
  std::uint64_t known_hashes[2] = {0, 0};
  std::uint32_t root = 0;         // index in InputNames::roots
  std::uint32_t name_offset = 0;  // into InputNames::names
  std::int32_t key_page = -1;
  std::int32_t zip_member = -1;  // its entry's offset in the archive's central directory, or -1
  std::uint32_t origin = 0;      // its index among the run's inputs (the supervisor's bookkeeping)
  // 0, or 1 + the index in InputNames::errors of why the input cannot be read at all (a corrupt
  // archive) or its key was given twice with different content: the file is rejected with it.
  std::uint32_t error = 0;
  std::uint16_t name_length = 0;
  std::uint8_t known_count = 0;
  Dataset known_datasets[2] = {Dataset::kUnknown, Dataset::kUnknown};
  Dataset hint = Dataset::kUnknown;  // a directory or archive named like a dataset, else (after
                                     // resolve_identities) the kind its content was found to be;
                                     // --dataset after keep_dataset
  bool forced = false;               // hint came from --dataset: the parser rejects other kinds
  bool reload = false;               // load even if its hash is loaded (--force)
};
static_assert(sizeof(InputFile) == 72, "an input is listed ~10^6 times: keep it small");

// The strings of a list of inputs, shared by every list taken from it (a run's later passes).
struct InputNames {
  std::vector<InputRoot> roots;
  std::string names;                // every input's name, back to back
  std::vector<std::string> errors;  // InputFile::error
};

// Inputs and their strings. Copies share the strings (InputList::subset).
class InputList {
 public:
  InputList() : names_(std::make_shared<InputNames>()) {}

  std::vector<InputFile> files;

  std::size_t size() const noexcept { return files.size(); }
  bool empty() const noexcept { return files.empty(); }
  // An empty list over the same strings, for a subset of the files.
  InputList subset() const { return InputList(names_); }
  const InputNames& names() const noexcept { return *names_; }

  // The name as listed: a directory's file name, an archive member's name.
  std::string_view name(const InputFile& f) const noexcept {
    return std::string_view(names_->names).substr(f.name_offset, f.name_length);
  }
  const InputRoot& root(const InputFile& f) const noexcept { return names_->roots[f.root]; }
  // The name as found: relative to the directory argument, the member's name in an archive, or
  // the file name for a file argument.
  std::string source_file(const InputFile& f) const { return root(f).prefix + std::string(name(f)); }
  // Where it is read from, for operators (ingest_files.source_path): the canonical path, or the
  // canonical archive path, ':' and the member.
  std::string source_path(const InputFile& f) const;
  // The path to open (for a zip member: the archive).
  std::string path(const InputFile& f) const;
  std::string_view open_error(const InputFile& f) const noexcept {
    return f.error == 0 ? std::string_view() : std::string_view(names_->errors[f.error - 1]);
  }
  void set_open_error(InputFile& f, std::string why);

  // Building a list.
  std::uint32_t add_root(InputRoot root);
  InputFile& add(std::uint32_t root, std::string_view name, std::uint64_t size);

 private:
  explicit InputList(std::shared_ptr<InputNames> names) : names_(std::move(names)) {}
  std::shared_ptr<InputNames> names_;
};

// --max-file-size's default: the largest input carried whole, in MiB.
inline constexpr std::uint64_t kDefaultMaxFileMiB = 256;

struct InputOptions {
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
InputList enumerate_inputs(const std::vector<std::string>& paths, const InputOptions& options);

class InputReader;  // input_reader.hpp

// The content of an input (a file, or a zip member inflated, through `reader`), whole or its first `prefix` bytes,
// with kTailPadding zero bytes past it for the parser; `error` says why it could not be read (the
// bytes are then empty). A whole input larger than max_bytes is not read.
struct InputBytes {
  std::vector<char> bytes;  // size() = length + padding
  std::size_t length = 0;
  std::string error;
};
InputBytes read_input(const InputList& list, const InputFile& file, InputReader& reader, std::uint64_t max_bytes,
                      std::uint64_t prefix = UINT64_MAX);

// The shard (0..count-1) of a filer's inputs (by CIK; an input without one by its name).
std::uint32_t shard_of(const InputList& list, const InputFile& file, std::uint32_t count);

}  // namespace edgarpipe
