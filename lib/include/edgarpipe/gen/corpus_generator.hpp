// CorpusGenerator: realistic synthetic EDGAR corpora for benchmarks and stress tests, reproducible
// from a seed (same seed and templates, same bytes, on any platform: the generator uses its own
// random distributions, not <random>'s implementation-defined ones).
//
// Templates are the real SEC samples (tests/data): filing rows, company headers, and companyfacts
// concepts are taken from them verbatim, so every value format and edge case of the real data
// appears; CIKs and accession numbers are made unique per generated filer. Sizes follow the real
// datasets: submissions main files average about 9.4 KB with a long tail, and about 3% of filers
// are big enough to have overflow pages (2,000 rows each); companyfacts files average about
// 600 KB with a tail to tens of MB. Malformed files of named kinds can be mixed in, each with the
// verdict a loader must give it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace edgarpipe {

struct GeneratorOptions {
  std::uint64_t seed = 1;
  std::uint32_t submissions = 100;        // filers (main files; overflow pages come on top)
  std::uint32_t companyfacts = 10;        // companyfacts files
  std::uint32_t malformed = 0;            // malformed files, cycling through malformed_kinds()
  std::uint64_t first_cik = 100'000'000;  // generated CIKs count up from here
  std::string templates;                  // a directory like tests/data
  bool tiny = false;                      // one filing row a submissions file, ~1 KB: real names and
                                          // shapes (3% with overflow pages) at millions of files
};

struct GeneratedFile {
  std::string name;  // relative path: submissions/CIK##########.json, companyfacts/...
  std::string bytes;
  std::string expected;  // "loaded" or "rejected"
  std::string kind;      // "submissions", "overflow", "companyfacts" or the malformed kind
};

// The malformed kinds, in the order they are generated.
const std::vector<std::string>& malformed_kinds();

class CorpusGenerator {
 public:
  explicit CorpusGenerator(const GeneratorOptions& options);  // throws std::runtime_error
  ~CorpusGenerator();
  // The next file (a filer's overflow pages follow its main file); false when done.
  bool next(GeneratedFile& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// edgarpipe-gen: writes a corpus (gen_main.cpp; `edgarpipe-gen --help`).
int gen_main(int argc, char** argv);

}  // namespace edgarpipe
