#include "edgarpipe/input/identity.hpp"

#include <xxhash.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/input/input_reader.hpp"
#include "edgarpipe/parse/edgar_parser.hpp"

namespace edgarpipe {

namespace {

// A parser's verdict on a document's kind and filer, its rows discarded.
class DiscardingOutput final : public RowBatchWriter::Output {
 public:
  DiscardingOutput() : buffer_(256 * 1024) {}
  std::span<std::byte> flush(std::size_t, std::size_t) override { return buffer_; }
  std::span<std::byte> first() { return buffer_; }

 private:
  std::vector<std::byte> buffer_;
};

using Identity = InputIdentity;

Identity identify(const InputList& list, const InputFile& f, std::uint64_t max_bytes, EdgarParser& parser,
                  InputReader& reader) {
  Identity id;
  const InputBytes in = read_input(list, f, reader, max_bytes);
  if (!in.error.empty()) return id;
  id.read = true;
  id.hash = XXH3_64bits(in.bytes.data(), in.length);
  DiscardingOutput output;
  RowBatchWriter rows(output);
  rows.reset(output.first());
  rows.begin_file(0);
  const ParseOutcome outcome =
      parser.parse(in.bytes.data(), in.length, in.bytes.size(), list.source_file(f), f.hint, f.forced, rows);
  id.dataset = outcome.dataset;
  id.cik = outcome.cik;
  return id;
}

// The dataset a document's first keys name (../shared/edgar-format.md): submissions main files
// have "entityType" among them, companyfacts files "entityName"; kUnknown when the first bytes
// hold neither, and the whole document must be parsed to tell. Reading a few KB instead of a
// companyfacts file of tens of MB matters when two unnamed archives share every CIK.
Dataset sniff_dataset(const InputList& list, const InputFile& f, InputReader& reader) {
  const InputBytes head = read_input(list, f, reader, UINT64_MAX, 4096);
  const std::string_view text(head.bytes.data(), head.length);
  const auto type = text.find("\"entityType\""), name = text.find("\"entityName\"");
  if (type == name) return Dataset::kUnknown;  // neither
  return type < name ? Dataset::kSubmissions : Dataset::kCompanyfacts;
}

std::string key_text(Dataset dataset, std::int64_t cik, std::int32_t page) {
  return fmt::format("{} {}", dataset_name(dataset), sec_file_name(cik, page));
}

}  // namespace

LeftOut keep_dataset(InputList& list, Dataset dataset) {
  LeftOut out;
  InputReader reader;
  std::erase_if(list.files, [&](InputFile& f) {
    Dataset kind = f.key_page > 0 ? Dataset::kSubmissions : f.hint;
    if (kind == Dataset::kUnknown && f.error == 0) kind = sniff_dataset(list, f, reader);
    if (kind != Dataset::kUnknown && kind != dataset) {  // an unreadable one too, if its name says so
      if (out.examples.size() < 3) out.examples.push_back(list.source_path(f));
      ++out.count;
      return true;
    }
    f.hint = dataset;
    f.forced = true;
    return false;
  });
  return out;
}

InputIdentity identify_input(const InputList& list, const InputFile& file, std::uint64_t max_bytes) {
  static EdgarParser parser;  // `status` asks for one input after another: its buffers are kept
  InputReader reader;
  return identify(list, file, max_bytes, parser, reader);
}

IdentityReport resolve_identities(InputList& list, std::uint64_t max_bytes) {
  std::vector<InputFile>& files = list.files;
  IdentityReport report;
  EdgarParser parser;
  InputReader reader;
  std::map<std::size_t, Identity> identities;  // by index into files, for the inputs read
  const auto identity_of = [&](std::size_t i) -> const Identity& {
    auto it = identities.find(i);
    if (it == identities.end()) it = identities.emplace(i, identify(list, files[i], max_bytes, parser, reader)).first;
    return it->second;
  };
  // A renamed file: its content names the filer and the kind (an overflow page needs its name).
  for (std::size_t i = 0; i < files.size(); ++i) {
    InputFile& f = files[i];
    if (f.key_cik >= 0 || f.error != 0) continue;
    const Identity& id = identity_of(i);
    if (id.cik < 0) continue;  // rejected by the parser as it is read: no key
    f.key_cik = id.cik;
    f.key_page = 0;
    if (f.hint == Dataset::kUnknown) f.hint = id.dataset;
  }
  // Inputs that share a CIK and page: their datasets tell them apart (a main file and a
  // companyfacts file of one filer), where path hints do not, from their content.
  // Sorted (cik, page, index) triples, not a map of vectors: a full snapshot has ~10^6 inputs.
  struct Named {
    std::int64_t cik;
    std::int32_t page;
    std::uint32_t index;
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
    auto operator<=>(const Named&) const = default;
  };
  std::vector<Named> by_name;
  by_name.reserve(files.size());
  for (std::size_t i = 0; i < files.size(); ++i)
    if (files[i].key_cik >= 0) by_name.push_back({files[i].key_cik, files[i].key_page, static_cast<std::uint32_t>(i)});
  std::sort(by_name.begin(), by_name.end());
  std::vector<bool> dropped(files.size(), false);
  for (std::size_t first = 0, last = 0; first < by_name.size(); first = last) {
    while (last < by_name.size() && by_name[last].cik == by_name[first].cik &&
           by_name[last].page == by_name[first].page)
      ++last;
    if (last - first < 2) continue;
    const std::pair<std::int64_t, std::int32_t> name{by_name[first].cik, by_name[first].page};
    std::vector<std::size_t> members;
    for (std::size_t k = first; k < last; ++k) members.push_back(by_name[k].index);
    std::map<Dataset, std::vector<std::size_t>> by_dataset;
    for (const std::size_t i : members) {
      if (files[i].hint == Dataset::kUnknown && files[i].error == 0) {
        Dataset found = files[i].key_page > 0 ? Dataset::kSubmissions : sniff_dataset(list, files[i], reader);
        if (found == Dataset::kUnknown) found = identity_of(i).dataset;
        files[i].hint = found;
      }
      by_dataset[files[i].hint].push_back(i);
    }
    for (const auto& [dataset, copies] : by_dataset) {
      if (copies.size() < 2) continue;
      bool same = true;
      for (const std::size_t i : copies) {
        const Identity& id = identity_of(i);
        same = same && id.read && id.hash == identity_of(copies[0]).hash;
      }
      std::string paths;
      for (const std::size_t i : copies) paths += (paths.empty() ? "" : ", ") + list.source_path(files[i]);
      const std::string key = key_text(dataset, name.first, name.second);
      for (std::size_t c = 1; c < copies.size(); ++c) dropped[copies[c]] = true;
      if (same) {
        report.duplicates += copies.size() - 1;
        report.messages.push_back(
            fmt::format("{} is given {} times with the same content ({}); loaded once", key, copies.size(), paths));
      } else {
        report.conflicting += copies.size() - 1;
        const std::string why =
            fmt::format("{} is given {} times with different content: {}", key, copies.size(), paths);
        report.messages.push_back(why + "; every copy rejected");
        list.set_open_error(files[copies[0]], why);
      }
    }
  }
  std::size_t i = 0;
  std::erase_if(files, [&](const InputFile&) { return dropped[i++]; });
  return report;
}

}  // namespace edgarpipe
