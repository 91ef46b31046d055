#include "edgarpipe/gen/corpus_generator.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace fs = std::filesystem;

namespace edgarpipe {

namespace {

// The filings columns written (the 2025+ set), in the SEC's order.
constexpr std::array<std::string_view, 15> kColumns = {"accessionNumber",
                                                       "filingDate",
                                                       "reportDate",
                                                       "acceptanceDateTime",
                                                       "act",
                                                       "form",
                                                       "fileNumber",
                                                       "filmNumber",
                                                       "items",
                                                       "core_type",
                                                       "size",
                                                       "isXBRL",
                                                       "isInlineXBRL",
                                                       "primaryDocument",
                                                       "primaryDocDescription"};
constexpr std::size_t kAccession = 0, kFilingDate = 1, kForm = 5, kCoreType = 9;
constexpr std::size_t kRecentRows = 1000;  // the SEC keeps ~1,000 recent filings in the main file
constexpr std::size_t kPageRows = 2000;    // and ~2,000 per overflow page

// splitmix64: a small, fully specified generator, so a seed gives the same corpus everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Standard normal by Irwin-Hall (12 uniforms): plain arithmetic, no libm differences.
  double normal() {
    double s = 0;
    for (int i = 0; i < 12; ++i) s += unit();
    return s - 6;
  }
  double lognormal(double mu, double sigma) { return std::exp(mu + sigma * normal()); }

 private:
  std::uint64_t state_;
};

std::string minified(simdjson::dom::element e) { return simdjson::minify(e); }

struct FilingRow {
  std::array<std::string, kColumns.size()> cells;  // raw JSON values
};

struct MainTemplate {
  std::string header;  // the document up to (not including) ,"filings":..., with "cik" first
};

struct Concept {
  std::string taxonomy, name, body;  // body: {"label":...,"description":...,"units":{...}}
  std::size_t facts = 0;
};

struct FactsTemplate {
  std::string entity_name;
  std::vector<Concept> concepts;
};

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("corpus generator: " + what);
}

}  // namespace

const std::vector<std::string>& malformed_kinds() {
  static const std::vector<std::string> kinds = {"truncated",    "invalid_utf8", "wrong_type",  "unequal_arrays",
                                                 "deep_nesting", "nul_byte",     "huge_number", "empty",
                                                 "not_json",     "empty_object"};
  return kinds;
}

struct CorpusGenerator::Impl {
  GeneratorOptions options;
  Random random;
  std::vector<FilingRow> rows;
  std::vector<MainTemplate> mains;
  std::vector<FactsTemplate> facts;
  std::uint64_t next_cik;
  std::uint32_t submissions_done = 0, companyfacts_done = 0, malformed_done = 0;
  std::vector<GeneratedFile> pending;  // a filer's overflow pages, after its main file

  explicit Impl(const GeneratorOptions& o) : options(o), random(o.seed), next_cik(o.first_cik) {
    load_templates(o.templates);
  }

  void load_templates(const std::string& dir) {
    simdjson::dom::parser parser;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());  // the same templates in the same order: reproducible
    for (const auto& path : files) {
      const std::string name = path.filename().string();
      const bool page = name.find("-submissions-") != std::string::npos;
      simdjson::padded_string text = simdjson::padded_string::load(path.string()).value();
      const simdjson::dom::element doc = parser.parse(text).value();
      const simdjson::dom::object top = doc.get_object().value();
      if (page) {
        add_rows(top);
      } else if (top["filings"].error() == simdjson::SUCCESS) {
        const simdjson::dom::object recent = top["filings"]["recent"].get_object().value();
        add_rows(recent);
        // The header: every top-level key but "filings", "cik" first (rewritten per filer).
        std::string header = "{\"cik\":\"%CIK%\"";
        for (auto [key, value] : top) {
          if (key == "cik" || key == "filings") continue;
          header += fmt::format(",\"{}\":{}", key, minified(value));
        }
        mains.push_back({std::move(header)});
      } else if (top["facts"].error() == simdjson::SUCCESS) {
        FactsTemplate t;
        t.entity_name = minified(top["entityName"].value());
        // Objects are bound to locals first: a range-for over `.value()` of a temporary result
        // would iterate a dead object.
        const simdjson::dom::object taxonomies = top["facts"].get_object().value();
        for (auto [taxonomy, concepts] : taxonomies) {
          const simdjson::dom::object concept_objects = concepts.get_object().value();
          for (auto [concept_name, body] : concept_objects) {
            Concept c{std::string(taxonomy), std::string(concept_name), minified(body), 0};
            const simdjson::dom::object units = body["units"].get_object().value();
            for (auto [unit, list] : units) c.facts += list.get_array().value().size();
            t.concepts.push_back(std::move(c));
          }
        }
        if (!t.concepts.empty()) facts.push_back(std::move(t));
      }
    }
    require(!rows.empty() && !mains.empty() && !facts.empty(),
            "templates in " + dir + " must include submissions main files and companyfacts files");
  }

  void add_rows(simdjson::dom::object columns) {
    std::array<simdjson::dom::array, kColumns.size()> arrays;
    std::array<bool, kColumns.size()> present{};
    std::size_t n = 0;
    for (std::size_t c = 0; c < kColumns.size(); ++c) {
      auto a = columns[kColumns[c]].get_array();
      if (a.error()) continue;
      arrays[c] = a.value();
      present[c] = true;
      n = arrays[c].size();
    }
    for (std::size_t i = 0; i < n; ++i) {
      FilingRow row;
      for (std::size_t c = 0; c < kColumns.size(); ++c)
        row.cells[c] = present[c] ? minified(arrays[c].at(i).value()) : "";
      if (row.cells[kCoreType].empty()) row.cells[kCoreType] = row.cells[kForm];  // old files lack core_type
      rows.push_back(std::move(row));
    }
  }

  // --- submissions -----------------------------------------------------------------------------

  std::string columns_json(const std::vector<const FilingRow*>& picked, const std::vector<std::string>& accessions,
                           std::size_t from, std::size_t to) {
    std::string out = "{";
    for (std::size_t c = 0; c < kColumns.size(); ++c) {
      out += fmt::format("{}\"{}\":[", c ? "," : "", kColumns[c]);
      for (std::size_t i = from; i < to; ++i) {
        if (i > from) out += ',';
        out += c == kAccession ? accessions[i] : picked[i]->cells[c];
      }
      out += ']';
    }
    return out + "}";
  }

  GeneratedFile make_filer(std::uint64_t cik) {
    // ~3% of filers are big (1,000 recent rows plus 1-3 overflow pages); the rest are
    // lognormal around ~10 rows (mean ~23): about 9.4 KB per main file on average.
    // --tiny: one row a file (the big filers' pages too), for runs over millions of names.
    const std::size_t recent_rows = options.tiny ? 1 : kRecentRows, page_rows = options.tiny ? 1 : kPageRows;
    std::size_t n;
    if (random.below(100) < 3)
      n = recent_rows + 1 + random.below(3 * page_rows);
    else
      n = std::min<std::size_t>(recent_rows, static_cast<std::size_t>(random.lognormal(2.3, 1.3)));
    n = std::max<std::size_t>(n, options.tiny ? 1 : 0);
    std::vector<const FilingRow*> picked;
    std::vector<std::string> accessions;
    for (std::size_t i = 0; i < n; ++i) {
      const FilingRow& r = rows[random.below(rows.size())];
      picked.push_back(&r);
      const std::string& a = r.cells[kAccession];  // "##########-YY-######"
      const std::string yy = a.size() >= 14 ? a.substr(12, 2) : "24";
      accessions.push_back(fmt::format("\"{:010d}-{}-{:06d}\"", cik, yy, i));
    }
    // Newest first, as the SEC writes them; pages hold the older rows.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return picked[a]->cells[kFilingDate] > picked[b]->cells[kFilingDate];
    });
    std::vector<const FilingRow*> sorted_rows;
    std::vector<std::string> sorted_acc;
    for (std::size_t i : order) {
      sorted_rows.push_back(picked[i]);
      sorted_acc.push_back(accessions[i]);
    }
    const std::size_t recent = std::min(n, recent_rows);
    std::string files = "[";
    for (std::size_t from = recent, page = 1; from < n; from += page_rows, ++page) {
      const std::size_t to = std::min(n, from + page_rows);
      const std::string page_name = fmt::format("CIK{:010d}-submissions-{:03d}.json", cik, page);
      GeneratedFile p;
      p.name = "submissions/" + page_name;
      p.bytes = columns_json(sorted_rows, sorted_acc, from, to);
      p.expected = "loaded";
      p.kind = "overflow";
      pending.push_back(std::move(p));
      files += fmt::format("{}{{\"name\":\"{}\",\"filingCount\":{},\"filingFrom\":{},\"filingTo\":{}}}",
                           page > 1 ? "," : "", page_name, to - from, sorted_rows[to - 1]->cells[kFilingDate],
                           sorted_rows[from]->cells[kFilingDate]);
    }
    files += "]";
    std::string header = mains[random.below(mains.size())].header;
    header.replace(header.find("%CIK%"), 5, fmt::format("{:010d}", cik));
    GeneratedFile main;
    main.name = fmt::format("submissions/CIK{:010d}.json", cik);
    main.bytes = header + ",\"filings\":{\"recent\":" + columns_json(sorted_rows, sorted_acc, 0, recent) +
                 ",\"files\":" + files + "}}";
    main.expected = "loaded";
    main.kind = "submissions";
    return main;
  }

  // --- companyfacts ----------------------------------------------------------------------------

  GeneratedFile make_facts(std::uint64_t cik) {
    // Lognormal around ~4,000 facts (~600 KB), capped at 400,000 (~60 MB).
    const auto target = static_cast<std::size_t>(std::min(400'000.0, random.lognormal(7.17, 1.5)));
    const FactsTemplate& t = facts[random.below(facts.size())];
    std::map<std::string, std::string> by_taxonomy;
    std::size_t have = 0;
    const std::size_t start = random.below(t.concepts.size());
    for (std::size_t i = 0; have < std::max<std::size_t>(target, 1); ++i) {
      const Concept& c = t.concepts[(start + i) % t.concepts.size()];
      const std::size_t pass = (start + i) / t.concepts.size();
      // A concept seen again is a new concept (keys stay unique): AssetsGen1, AssetsGen2, ...
      const std::string name = pass == 0 ? c.name : fmt::format("{}Gen{}", c.name, pass);
      std::string& tax = by_taxonomy[c.taxonomy];
      tax += fmt::format("{}\"{}\":{}", tax.empty() ? "" : ",", name, c.body);
      have += std::max<std::size_t>(c.facts, 1);
    }
    std::string body = fmt::format("{{\"cik\":{},\"entityName\":{},\"facts\":{{", cik, t.entity_name);
    bool first = true;
    for (const auto& [taxonomy, concepts] : by_taxonomy) {
      body += fmt::format("{}\"{}\":{{{}}}", first ? "" : ",", taxonomy, concepts);
      first = false;
    }
    GeneratedFile f;
    f.name = fmt::format("companyfacts/CIK{:010d}.json", cik);
    f.bytes = body + "}}";
    f.expected = "loaded";
    f.kind = "companyfacts";
    return f;
  }

  // --- malformed -------------------------------------------------------------------------------

  GeneratedFile make_malformed(std::uint64_t cik, const std::string& kind) {
    GeneratedFile f;
    f.kind = kind;
    f.expected = "rejected";
    const bool facts_kind = kind == "huge_number" || kind == "empty_object";
    if (facts_kind) {
      f = make_facts(cik);
    } else {
      // A small valid main file with at least two filings, then broken.
      do {
        pending.clear();
        f = make_filer(cik);
      } while (f.bytes.find("\"form\":[\"") == std::string::npos || f.bytes.find("\"form\":[]") != std::string::npos ||
               !pending.empty());
    }
    f.kind = kind;
    f.expected = "rejected";
    std::string& b = f.bytes;
    if (kind == "truncated") {
      b.resize(1 + random.below(b.size() - 1));
    } else if (kind == "invalid_utf8") {
      b.insert(b.find("\"name\":\"") + 8, "\xC3\x28");
    } else if (kind == "wrong_type") {
      b.replace(b.find("\"cik\":\""), 18, "\"cik\":true");
    } else if (kind == "unequal_arrays") {
      const auto at = b.find("\"form\":[") + 8;
      const auto end = b.find_first_of(",]", at);
      b.insert(at, b.substr(at, end - at) + ",");
    } else if (kind == "deep_nesting") {
      b = std::string(10'000, '[') + std::string(10'000, ']');
    } else if (kind == "nul_byte") {
      b.insert(b.size() / 2, 1, '\0');
    } else if (kind == "huge_number") {
      const auto at = b.find("\"val\":");
      const auto end = b.find_first_of(",}", at + 6);
      b.replace(at + 6, end - at - 6, "1e999");
    } else if (kind == "empty") {
      b.clear();
    } else if (kind == "not_json") {
      b = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not "
          "exist.</Message></Error>";
    } else if (kind == "empty_object") {
      b = "{}";  // a valid companyfacts file with no facts
      f.expected = "loaded";
    }
    return f;
  }

  bool next(GeneratedFile& out) {
    if (!pending.empty()) {
      out = std::move(pending.front());
      pending.erase(pending.begin());
      return true;
    }
    if (submissions_done < options.submissions) {
      ++submissions_done;
      out = make_filer(next_cik++);
      return true;
    }
    if (companyfacts_done < options.companyfacts) {
      ++companyfacts_done;
      out = make_facts(next_cik++);
      return true;
    }
    if (malformed_done < options.malformed) {
      const std::string& kind = malformed_kinds()[malformed_done % malformed_kinds().size()];
      ++malformed_done;
      out = make_malformed(next_cik++, kind);
      pending.clear();
      return true;
    }
    return false;
  }
};

CorpusGenerator::CorpusGenerator(const GeneratorOptions& options) : impl_(std::make_unique<Impl>(options)) {}
CorpusGenerator::~CorpusGenerator() = default;
bool CorpusGenerator::next(GeneratedFile& out) { return impl_->next(out); }

}  // namespace edgarpipe
