// The identity of inputs by SEC key (../shared/edgar-tables.md): what the parser makes of the few
// inputs whose names cannot settle their key. Apart from sources.hpp because it parses: the
// readers enumerate and read inputs but never identify them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgarpipe/input/sources.hpp"

namespace edgarpipe {

// What a parser makes of an input's bytes: its kind and filer, and its content hash.
struct InputIdentity {
  Dataset dataset = Dataset::kUnknown;
  std::int64_t cik = -1;
  std::uint64_t hash = 0;
  bool read = false;  // false: the input could not be read (the reader will say why)
};
// Not thread-safe: one parser serves every call.
InputIdentity identify_input(const InputList& list, const InputFile& file, std::uint64_t max_bytes);

// --dataset D: the inputs of the other dataset are left out of the run (neither loaded nor
// rejected), told by what is known before parsing: an overflow page's name, a folder or archive
// named like a dataset, else the document's first keys. The rest are marked as D's (`forced`: the
// parser rejects one whose content is of the other kind); inputs that cannot be read stay, to be
// rejected with their reason, unless their name says they are of the other dataset. Returns how
// many were left out and the first few paths.
struct LeftOut {
  std::uint64_t count = 0;
  std::vector<std::string> examples;
};
LeftOut keep_dataset(InputList& list, Dataset dataset);

// What resolve_identities found.
struct IdentityReport {
  std::uint64_t duplicates = 0;       // copies of a key with the same content, dropped from the run
  std::uint64_t conflicting = 0;      // copies of a key with other content, dropped (rejected)
  std::vector<std::string> messages;  // one line per key given more than once
};

// Gives every input its key before a run (../shared/edgar-tables.md: a document is known by its
// dataset, CIK and page, not by where it lies), reading only the few inputs their names cannot
// settle: renamed files (their dataset and cik come from their content) and keys named more than
// once (a folder and the zip made from it). A key given more than once keeps one input: the
// copies with the same content are dropped as duplicates; copies with different content are
// dropped too and the one kept is rejected with a reason naming every copy's path, so the
// database never meets a key twice in a run.
IdentityReport resolve_identities(InputList& list, std::uint64_t max_bytes);

}  // namespace edgarpipe
