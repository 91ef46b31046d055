#include "edgarpipe/input/sources.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "edgarpipe/core/file_names.hpp"
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
    f.source_path = fmt::format("{}:{}", canonical_archive, name);
    f.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    f.forced = options.forced != Dataset::kUnknown;
    f.hint = f.forced ? options.forced : dataset_hint_from_path(fmt::format("{}/{}", canonical_archive, name));
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

}  // namespace edgarpipe
