// The inputs of a run, before any stage starts: listed and given their keys, sharded, narrowed
// by --retry-rejected, told what is loaded under their keys. Internal to lib/supervisor/.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "run_options.hpp"

namespace edgarpipe {

// Every input of the PATHs, each with its key (resolve_identities: copies of a key are dropped,
// `duplicates` with the same content, `conflicting` with other content), then --shard's share.
// Throws UsageError when the PATHs hold no input.
InputList list_inputs(const RunOptions& o, std::uint64_t& duplicates, std::uint64_t& conflicting);

// --retry-rejected: keeps the inputs whose key (or, key-less, whose path) the sink holds rejected.
void keep_rejected_only(InputList& files, SinkAdmin& admin);

// The content loaded under an input's key, in its dataset (in both, when its kind is not
// known yet: the reader skips on either hash, the writer replaces only in the file's own).
void attach_known(InputFile& f, const LoadedFiles& loaded);

// --force replaces each filer once: through its main file, when that is an input. Its overflow
// pages, skipped as unchanged, are then loaded by the second pass (reload_unloaded) after the
// replacement took their marks off. Forcing them too would replace the filer once per page and
// write the pages loaded before the last replacement twice.
void force_main_files_only(InputList& files);

}  // namespace edgarpipe
