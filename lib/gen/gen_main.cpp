// edgarpipe-gen: writes a synthetic corpus (CorpusGenerator) as a directory or a zip, with
// expected.tsv listing every file's expected verdict and kind.
#include <zip.h>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "edgarpipe/gen/corpus_generator.hpp"

namespace fs = std::filesystem;

namespace edgarpipe {

namespace {

constexpr const char* kGenUsage = R"(usage: edgarpipe-gen (--out DIR | --zip FILE) [options]

  --seed N            random seed (default 1): the same seed gives the same corpus
  --submissions N     filers (main files; ~3% also get overflow pages) (default 100)
  --companyfacts N    companyfacts files (default 10)
  --malformed N       malformed files, cycling through the kinds below (default 0)
  --first-cik N       generated CIKs count up from here (default 100000000)
  --tiny              one filing row per submissions file (overflow pages too): ~1 KB files with
                      real names, for memory and bookkeeping at millions of files
  --templates DIR     real SEC files to take rows and concepts from (default: the repository's
                      tests/data)

Writes expected.tsv (source file, expected verdict, kind) into DIR, or FILE.expected.tsv beside
the zip. Malformed kinds: truncated, invalid_utf8, wrong_type, unequal_arrays, deep_nesting,
nul_byte, huge_number, empty, not_json, empty_object (a valid companyfacts file with no facts).
)";

std::uint64_t number(const char* flag, const char* value) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(value, &end, 10);
  if (end == value || *end != '\0') throw std::invalid_argument(fmt::format("{} needs a number", flag));
  return n;
}

}  // namespace

int gen_main(int argc, char** argv) {
  GeneratorOptions options;
  options.templates = EDGARPIPE_SOURCE_DIR "/tests/data";
  std::string out_dir, zip_path;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        fmt::print("{}", kGenUsage);
        return 0;
      }
      if (arg == "--tiny") {
        options.tiny = true;
        continue;
      }
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", arg));
      const char* value = argv[++i];
      if (arg == "--out")
        out_dir = value;
      else if (arg == "--zip")
        zip_path = value;
      else if (arg == "--seed")
        options.seed = number(argv[i - 1], value);
      else if (arg == "--submissions")
        options.submissions = static_cast<std::uint32_t>(number(argv[i - 1], value));
      else if (arg == "--companyfacts")
        options.companyfacts = static_cast<std::uint32_t>(number(argv[i - 1], value));
      else if (arg == "--malformed")
        options.malformed = static_cast<std::uint32_t>(number(argv[i - 1], value));
      else if (arg == "--first-cik")
        options.first_cik = number(argv[i - 1], value);
      else if (arg == "--templates")
        options.templates = value;
      else
        throw std::invalid_argument(fmt::format("unknown option {}", arg));
    }
    if (out_dir.empty() == zip_path.empty())
      throw std::invalid_argument("give exactly one of --out DIR and --zip FILE");
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "edgarpipe-gen: {}\n\n{}", e.what(), kGenUsage);
    return 2;
  }

  try {
    CorpusGenerator generator(options);
    // A zip is staged as files first so memory stays bounded whatever the corpus size.
    const fs::path root = zip_path.empty() ? fs::path(out_dir) : fs::path(zip_path + ".staging");
    fs::create_directories(root / "submissions");
    fs::create_directories(root / "companyfacts");
    fs::path expected_path = root / "expected.tsv";
    if (!zip_path.empty()) expected_path = zip_path + ".expected.tsv";
    std::ofstream expected(expected_path);
    std::vector<std::string> names;
    std::uint64_t files = 0, bytes = 0;
    GeneratedFile f;
    while (generator.next(f)) {
      std::ofstream(root / f.name, std::ios::binary)
          .write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
      expected << f.name << '\t' << f.expected << '\t' << f.kind << '\n';
      names.push_back(f.name);
      ++files;
      bytes += f.bytes.size();
    }
    if (!zip_path.empty()) {
      int code = 0;
      zip_t* z = zip_open(zip_path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
      if (z == nullptr) throw std::runtime_error("cannot create " + zip_path);
      for (const auto& name : names) {
        zip_source_t* src = zip_source_file(z, (root / name).c_str(), 0, -1);
        if (src == nullptr || zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8) < 0)
          throw std::runtime_error(fmt::format("cannot add {} to {}: {}", name, zip_path, zip_strerror(z)));
      }
      if (zip_close(z) != 0) throw std::runtime_error("cannot write " + zip_path + ": " + zip_strerror(z));
      fs::remove_all(root);
    }
    fmt::print(stderr, "edgarpipe-gen: {} files, {:.1f} MB (seed {}) in {}\n", files, static_cast<double>(bytes) / 1e6,
               options.seed, zip_path.empty() ? out_dir : zip_path);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "edgarpipe-gen: {}\n", e.what());
    return 1;
  }
}

}  // namespace edgarpipe
