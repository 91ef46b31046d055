#include "edgarpipe/sources.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include <zip.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "edgarpipe/edgar_parser.hpp"
#include "edgarpipe/ipc/chunk_pool.hpp"

namespace fs = std::filesystem;

namespace edgarpipe {

namespace {

// Whether a path ends in `ext` (lower case, with the dot), in any letter case.
bool has_extension(const fs::path& p, std::string_view ext) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ext;
}
bool is_json_name(const fs::path& p) { return has_extension(p, ".json"); }
bool is_zip(const fs::path& p) { return has_extension(p, ".zip"); }

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// The *.json members of an archive. A corrupt or truncated archive yields one input carrying the
// reason, so it is reported and recorded like a bad file while every other input still loads.
void add_zip_members(const fs::path& archive, const InputOptions& options, std::vector<InputFile>& files) {
  int code = 0;
  zip_t* zip = zip_open(archive.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (zip == nullptr) {
    InputFile bad;
    bad.path = archive.string();
    bad.source_file = archive.filename().string();
    bad.source_path = fs::weakly_canonical(archive).string();
    bad.hint = options.forced;
    bad.forced = options.forced != Dataset::kUnknown;
    bad.open_error = "cannot read zip archive " + archive.string() + ": " + zip_error_text(code);
    files.push_back(std::move(bad));
    return;
  }
  const zip_int64_t count = zip_get_num_entries(zip, 0);
  const std::string canonical_archive = fs::weakly_canonical(archive).string();  // once, not per member
  std::vector<InputFile> members;
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(zip, static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
    const std::string name = st.name ? st.name : "";
    if (name.empty() || name.back() == '/' || !is_json_name(fs::path(name))) continue;
    InputFile f;
    f.path = archive.string();
    f.zip_member = i;
    f.source_file = name;
    f.source_path = canonical_archive + ":" + name;
    f.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    f.forced = options.forced != Dataset::kUnknown;
    f.hint = f.forced ? options.forced : dataset_hint_from_path(canonical_archive + "/" + name);
    if ((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size > 0 && st.comp_method != ZIP_CM_STORE) {
      const double ratio = static_cast<double>(st.size) / static_cast<double>(st.comp_size);
      if (ratio > options.max_compression_ratio)
        f.open_error = "member " + name + " of " + archive.string() + " expands " +
                       std::to_string(static_cast<long long>(ratio)) + " times, over the limit of " +
                       std::to_string(static_cast<long long>(options.max_compression_ratio)) +
                       " (a zip bomb?); not inflated";
    }
    members.push_back(std::move(f));
  }
  zip_close(zip);
  std::sort(members.begin(), members.end(),
            [](const InputFile& a, const InputFile& b) { return a.source_file < b.source_file; });
  for (auto& m : members) files.push_back(std::move(m));
}

}  // namespace

std::uint32_t shard_of(const InputFile& file, std::uint32_t count) noexcept {
  if (count <= 1) return 0;
  const std::string key = file.key_cik >= 0 ? std::to_string(file.key_cik) : file.source_file;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across builds and machines
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ULL;
  return static_cast<std::uint32_t>(h % count);
}

std::vector<InputFile> enumerate_inputs(const std::vector<std::string>& paths, const InputOptions& options) {
  const Dataset forced = options.forced;
  std::vector<InputFile> files;
  std::unordered_set<std::string> seen;  // canonical paths
  // `canonical`: the file's canonical path if known (a file found under a directory whose
  // canonical path is known), else it is resolved here, a few syscalls per path component.
  auto add = [&](const fs::path& p, std::string source, std::uint64_t size, std::string canonical = {}) {
    std::error_code ec;
    if (canonical.empty()) canonical = fs::weakly_canonical(p, ec).string();
    if (!seen.insert(ec ? p.string() : canonical).second) return;
    InputFile f;
    f.path = p.string();
    f.source_file = std::move(source);
    f.source_path = ec || canonical.empty() ? f.path : canonical;
    f.size = size;
    f.forced = forced != Dataset::kUnknown;
    f.hint = forced != Dataset::kUnknown ? forced : dataset_hint_from_path(canonical.empty() ? f.path : canonical);
    files.push_back(std::move(f));
  };
  for (const std::string& arg : paths) {
    std::error_code ec;
    const fs::path root(arg);
    const auto status = fs::status(root, ec);
    if (ec || !fs::exists(status)) throw UsageError("no such file or directory: " + arg);
    if (fs::is_directory(status)) {
      // The walk does not enter symlinked directories, so below the canonical root a file's
      // canonical path is the root's plus its relative path, unless the file is itself a symlink
      // (resolved one by one). 944k files would otherwise cost millions of readlink calls.
      const fs::path canonical_root = fs::weakly_canonical(root, ec);
      struct Found {
        std::string order;  // the path with '/' as \x01: plain string order is then fs::path's order
        fs::path path;
        bool symlink;
      };
      std::vector<Found> found;
      std::vector<fs::path> archives;  // zip archives in the tree are read like archives named
      for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && is_zip(it->path())) archives.push_back(it->path());
        if (!it->is_regular_file(ec) || !is_json_name(it->path())) continue;
        std::string order = it->path().string();
        std::replace(order.begin(), order.end(), '/', '\x01');
        found.push_back({std::move(order), it->path(), it->is_symlink(ec)});
      }
      if (ec) throw UsageError("cannot walk directory " + arg + ": " + ec.message());
      // Sorting fs::path objects compares them component by component, with allocations: most of
      // the listing's time for 10^5-10^6 files.
      std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.order < b.order; });
      for (const auto& [order, p, symlink] : found) {
        std::string relative = p.lexically_relative(root).generic_string();
        std::string canonical = symlink ? std::string() : (canonical_root / relative).lexically_normal().string();
        add(p, std::move(relative), fs::file_size(p, ec), std::move(canonical));
      }
      std::sort(archives.begin(), archives.end());
      for (const fs::path& archive : archives)
        if (seen.insert(fs::weakly_canonical(archive, ec).string()).second) add_zip_members(archive, options, files);
    } else if (is_zip(root)) {
      if (seen.insert(fs::weakly_canonical(root, ec).string()).second) add_zip_members(root, options, files);
    } else {
      add(root, root.filename().string(), fs::file_size(root, ec));
    }
  }
  for (InputFile& f : files) {
    const FileNameInfo name = parse_file_name(f.source_file);
    f.key_cik = name.cik;
    f.key_page = name.page;
  }
  // An input without an SEC name stays in every shard until its content gives it a CIK
  // (resolve_identities; the supervisor shards again then).
  if (options.shard_count > 1)
    std::erase_if(files, [&](const InputFile& f) {
      return f.key_cik >= 0 && shard_of(f, options.shard_count) != options.shard_index;
    });
  return files;
}

InputBytes read_input(const InputFile& file, std::uint64_t max_bytes, std::uint64_t prefix) {
  InputBytes out;
  if (!file.open_error.empty()) {
    out.error = file.open_error;
    return out;
  }
  if (file.size > max_bytes && prefix >= file.size) {
    out.error = fmt::format("{} bytes, larger than --max-file-size", file.size);
    return out;
  }
  const std::uint64_t wanted = std::min(file.size, prefix);
  out.bytes.assign(wanted + ipc::kTailPadding, '\0');
  if (file.zip_member < 0) {
    const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      out.error = fmt::format("cannot open: {}", std::strerror(errno));
      return out;
    }
    std::size_t done = 0;
    while (done < wanted) {
      const ssize_t n = ::read(fd, out.bytes.data() + done, wanted - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.length = done;
    return out;
  }
  int code = 0;
  zip_t* zip = zip_open(file.path.c_str(), ZIP_RDONLY, &code);
  if (zip == nullptr) {
    out.error = "cannot read zip archive " + file.path + ": " + zip_error_text(code);
    return out;
  }
  zip_file_t* member = zip_fopen_index(zip, static_cast<zip_uint64_t>(file.zip_member), 0);
  if (member == nullptr) {
    out.error = fmt::format("cannot open member {} of {}: {}", file.source_file, file.path, zip_strerror(zip));
  } else {
    zip_int64_t n = 0;
    while (out.length < wanted && (n = zip_fread(member, out.bytes.data() + out.length, wanted - out.length)) > 0)
      out.length += static_cast<std::size_t>(n);
    if (n < 0) out.error = fmt::format("member {} of {}: {}", file.source_file, file.path, zip_file_strerror(member));
    zip_fclose(member);
  }
  zip_discard(zip);
  if (!out.error.empty()) out.bytes.clear(), out.length = 0;
  return out;
}

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

Identity identify(const InputFile& f, std::uint64_t max_bytes, EdgarParser& parser) {
  Identity id;
  const InputBytes in = read_input(f, max_bytes);
  if (!in.error.empty()) return id;
  id.read = true;
  id.hash = XXH3_64bits(in.bytes.data(), in.length);
  DiscardingOutput output;
  RowBatchWriter rows(output);
  rows.reset(output.first());
  rows.begin_file(0);
  const ParseOutcome outcome =
      parser.parse(in.bytes.data(), in.length, in.bytes.size(), f.source_file, f.hint, f.forced, rows);
  id.dataset = outcome.dataset;
  id.cik = outcome.cik;
  return id;
}

// The dataset a document's first keys name (../shared/edgar-format.md): submissions main files
// have "entityType" among them, companyfacts files "entityName"; kUnknown when the first bytes
// hold neither, and the whole document must be parsed to tell. Reading a few KB instead of a
// companyfacts file of tens of MB matters when two unnamed archives share every CIK.
Dataset sniff_dataset(const InputFile& f) {
  const InputBytes head = read_input(f, UINT64_MAX, 4096);
  const std::string_view text(head.bytes.data(), head.length);
  const auto type = text.find("\"entityType\""), name = text.find("\"entityName\"");
  if (type == name) return Dataset::kUnknown;  // neither
  return type < name ? Dataset::kSubmissions : Dataset::kCompanyfacts;
}

std::string key_text(Dataset dataset, std::int64_t cik, std::int32_t page) {
  return fmt::format("{} {}", dataset_name(dataset), sec_file_name(cik, page));
}

}  // namespace

InputIdentity identify_input(const InputFile& file, std::uint64_t max_bytes) {
  static EdgarParser parser;  // `status` asks for one input after another: its buffers are kept
  return identify(file, max_bytes, parser);
}

IdentityReport resolve_identities(std::vector<InputFile>& files, std::uint64_t max_bytes) {
  IdentityReport report;
  EdgarParser parser;
  std::map<std::size_t, Identity> identities;  // by index into files, for the inputs read
  const auto identity_of = [&](std::size_t i) -> const Identity& {
    auto it = identities.find(i);
    if (it == identities.end()) it = identities.emplace(i, identify(files[i], max_bytes, parser)).first;
    return it->second;
  };
  // A renamed file: its content names the filer and the kind (an overflow page needs its name).
  for (std::size_t i = 0; i < files.size(); ++i) {
    InputFile& f = files[i];
    if (f.key_cik >= 0 || !f.open_error.empty()) continue;
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
      if (files[i].hint == Dataset::kUnknown && files[i].open_error.empty()) {
        Dataset found = files[i].key_page > 0 ? Dataset::kSubmissions : sniff_dataset(files[i]);
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
      for (const std::size_t i : copies) paths += (paths.empty() ? "" : ", ") + files[i].source_path;
      const std::string key = key_text(dataset, name.first, name.second);
      for (std::size_t c = 1; c < copies.size(); ++c) dropped[copies[c]] = true;
      if (same) {
        report.duplicates += copies.size() - 1;
        report.messages.push_back(
            fmt::format("{} is given {} times with the same content ({}); loaded once", key, copies.size(), paths));
      } else {
        report.conflicting += copies.size() - 1;
        files[copies[0]].open_error =
            fmt::format("{} is given {} times with different content: {}", key, copies.size(), paths);
        report.messages.push_back(files[copies[0]].open_error + "; every copy rejected");
      }
    }
  }
  std::size_t i = 0;
  std::erase_if(files, [&](const InputFile&) { return dropped[i++]; });
  return report;
}

}  // namespace edgarpipe
