#include "edgarpipe/input/sources.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include <zip.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>
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

// The *.json members of an archive, sorted by name. A corrupt or truncated archive yields one
// input carrying the reason, so it is reported and recorded like a bad file while every other
// input still loads.
void add_zip_members(const fs::path& archive, const std::string& canonical_archive, const InputOptions& options,
                     InputList& list) {
  InputRoot root;
  root.kind = InputRoot::Kind::kArchive;
  root.open = archive.string();
  root.canonical = canonical_archive;
  int code = 0;
  zip_t* zip = zip_open(archive.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (zip == nullptr) {
    root.kind = InputRoot::Kind::kFile;  // its path names it: no member
    InputFile& bad = list.add(list.add_root(std::move(root)), archive.filename().string(), 0);
    bad.hint = options.forced;
    bad.forced = options.forced != Dataset::kUnknown;
    list.set_open_error(bad, "cannot read zip archive " + archive.string() + ": " + zip_error_text(code));
    return;
  }
  const std::uint32_t root_index = list.add_root(std::move(root));
  const std::size_t first = list.files.size();
  const zip_int64_t count = zip_get_num_entries(zip, 0);
  if (count > INT32_MAX)
    throw UsageError(fmt::format("{} has {} members, more than edgarpipe reads", archive.string(), count));
  const std::string canonical_dir = canonical_archive + "/";  // dataset hints come from member directories too
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(zip, static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
    const std::string_view name = st.name ? st.name : "";
    if (name.empty() || name.back() == '/' || !is_json_name(fs::path(name))) continue;
    InputFile& f = list.add(root_index, name, (st.valid & ZIP_STAT_SIZE) ? st.size : 0);
    f.zip_member = static_cast<std::int32_t>(i);
    f.forced = options.forced != Dataset::kUnknown;
    f.hint = f.forced ? options.forced : dataset_hint_from_path(canonical_dir + std::string(name));
    if ((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size > 0 && st.comp_method != ZIP_CM_STORE) {
      const double ratio = static_cast<double>(st.size) / static_cast<double>(st.comp_size);
      if (ratio > options.max_compression_ratio)
        list.set_open_error(f, fmt::format("member {} of {} expands {} times, over the limit of {} (a zip bomb?); "
                                           "not inflated",
                                           name, archive.string(), static_cast<long long>(ratio),
                                           static_cast<long long>(options.max_compression_ratio)));
    }
  }
  zip_close(zip);
  std::sort(list.files.begin() + static_cast<std::ptrdiff_t>(first), list.files.end(),
            [&](const InputFile& x, const InputFile& y) { return list.name(x) < list.name(y); });
}

// Path order (as fs::path orders paths: '/' before every other character) of a + b against c + d,
// without joining them.
bool path_less(std::string_view a, std::string_view b, std::string_view c, std::string_view d) noexcept {
  const auto at = [](std::string_view x, std::string_view y, std::size_t i) {
    const unsigned char ch = static_cast<unsigned char>(i < x.size() ? x[i] : y[i - x.size()]);
    return ch == '/' ? 1u : ch == 1 ? 47u : static_cast<unsigned>(ch);  // swap '/' and \x01
  };
  const std::size_t left = a.size() + b.size(), right = c.size() + d.size();
  for (std::size_t i = 0; i < left && i < right; ++i) {
    const unsigned l = at(a, b, i), r = at(c, d, i);
    if (l != r) return l < r;
  }
  return left < right;
}

// The *.json files under a directory, in path order, and the zip archives among them. The walk
// does not enter symlinked directories, so below the canonical root a file's canonical path is its
// directory's plus its name, unless the file is itself a symlink (resolved one by one, as a root of
// its own). 944k files would otherwise cost millions of readlink calls.
void add_directory(const std::string& arg, const Dataset forced, InputList& list, std::vector<fs::path>& archives) {
  std::error_code ec;
  const fs::path top(arg);
  const fs::path canonical_top = fs::weakly_canonical(top, ec);
  std::unordered_map<std::string, std::uint32_t> dir_roots;  // by the directory's relative path
  const auto dir_root = [&](const fs::path& relative_dir) {
    std::string rel = relative_dir.generic_string();
    if (rel == ".") rel.clear();
    if (!rel.empty()) rel += '/';
    const auto it = dir_roots.find(rel);
    if (it != dir_roots.end()) return it->second;
    InputRoot root;
    root.kind = InputRoot::Kind::kDirectory;
    root.open = (top / relative_dir).lexically_normal().string();
    root.canonical = (canonical_top / relative_dir).lexically_normal().string();
    for (std::string* s : {&root.open, &root.canonical})
      if (s->empty() || s->back() != '/') *s += '/';
    root.prefix = rel;
    const std::uint32_t index = list.add_root(std::move(root));
    dir_roots.emplace(std::move(rel), index);
    return index;
  };
  const std::size_t first = list.files.size();
  for (auto it = fs::recursive_directory_iterator(top, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && is_zip(it->path())) archives.push_back(it->path());
    if (!it->is_regular_file(ec) || !is_json_name(it->path())) continue;
    const fs::path relative = it->path().lexically_relative(top);
    const std::uint64_t size = it->file_size(ec);
    std::uint32_t root;
    if (it->is_symlink(ec)) {
      InputRoot link;
      link.kind = InputRoot::Kind::kFile;
      link.open = it->path().string();
      link.canonical = fs::weakly_canonical(it->path(), ec).string();
      link.prefix = relative.parent_path().generic_string();
      if (!link.prefix.empty()) link.prefix += '/';
      root = list.add_root(std::move(link));
    } else {
      root = dir_root(relative.parent_path());
    }
    InputFile& f = list.add(root, relative.filename().string(), ec ? 0 : size);
    f.forced = forced != Dataset::kUnknown;
    f.hint = f.forced ? forced : dataset_hint_from_path(list.source_path(f));
  }
  if (ec) throw UsageError("cannot walk directory " + arg + ": " + ec.message());
  std::sort(list.files.begin() + static_cast<std::ptrdiff_t>(first), list.files.end(),
            [&](const InputFile& x, const InputFile& y) {
              return path_less(list.root(x).prefix, list.name(x), list.root(y).prefix, list.name(y));
            });
}

// Drops the inputs after the first with the same source path (a path given twice, a directory
// given with one of its subdirectories). Sorted hashes, not a set of paths: ~10^6 inputs.
void drop_repeated_paths(InputList& list) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> hashes;
  hashes.reserve(list.files.size());
  for (std::uint32_t i = 0; i < list.files.size(); ++i) {
    const InputFile& f = list.files[i];
    if (f.zip_member >= 0) continue;  // archives are taken once each; members are distinct entries
    const std::string path = list.source_path(f);
    hashes.emplace_back(XXH3_64bits(path.data(), path.size()), i);
  }
  std::sort(hashes.begin(), hashes.end());
  std::vector<bool> dropped(list.files.size(), false);
  for (std::size_t a = 0, b = 0; a < hashes.size(); a = b) {
    for (b = a + 1; b < hashes.size() && hashes[b].first == hashes[a].first; ++b) {
    }
    for (std::size_t x = a; x < b; ++x)
      for (std::size_t y = x + 1; y < b; ++y)
        if (!dropped[hashes[x].second] &&
            list.source_path(list.files[hashes[x].second]) == list.source_path(list.files[hashes[y].second]))
          dropped[hashes[y].second] = true;  // the later index: the first listed is kept
  }
  std::size_t i = 0;
  std::erase_if(list.files, [&](const InputFile&) { return dropped[i++]; });
}

}  // namespace

std::string InputList::source_path(const InputFile& f) const {
  const InputRoot& r = root(f);
  switch (r.kind) {
    case InputRoot::Kind::kDirectory:
      return r.canonical + std::string(name(f));
    case InputRoot::Kind::kArchive:
      return r.canonical + ":" + std::string(name(f));
    case InputRoot::Kind::kFile:
      break;
  }
  return r.canonical;
}

std::string InputList::path(const InputFile& f) const {
  const InputRoot& r = root(f);
  return r.kind == InputRoot::Kind::kDirectory ? r.open + std::string(name(f)) : r.open;
}

void InputList::set_open_error(InputFile& f, std::string why) {
  if (f.error != 0) {
    names_->errors[f.error - 1] = std::move(why);
    return;
  }
  names_->errors.push_back(std::move(why));
  f.error = static_cast<std::uint32_t>(names_->errors.size());
}

std::uint32_t InputList::add_root(InputRoot root) {
  names_->roots.push_back(std::move(root));
  return static_cast<std::uint32_t>(names_->roots.size() - 1);
}

InputFile& InputList::add(std::uint32_t root, std::string_view name, std::uint64_t size) {
  if (names_->names.size() + name.size() > UINT32_MAX || name.size() > UINT16_MAX)
    throw UsageError(fmt::format("too many input names to list (at {}, {} files)", name, files.size()));
  InputFile& f = files.emplace_back();
  f.root = root;
  f.name_offset = static_cast<std::uint32_t>(names_->names.size());
  f.name_length = static_cast<std::uint16_t>(name.size());
  f.size = size;
  names_->names += name;
  return f;
}

std::uint32_t shard_of(const InputList& list, const InputFile& file, std::uint32_t count) {
  if (count <= 1) return 0;
  const std::string key = file.key_cik >= 0 ? std::to_string(file.key_cik) : list.source_file(file);
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across builds and machines
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ULL;
  return static_cast<std::uint32_t>(h % count);
}

InputList enumerate_inputs(const std::vector<std::string>& paths, const InputOptions& options) {
  const Dataset forced = options.forced;
  InputList list;
  std::unordered_set<std::string> archives_seen;  // canonical paths
  const auto add_archive = [&](const fs::path& archive) {
    std::error_code ec;
    std::string canonical = fs::weakly_canonical(archive, ec).string();
    if (ec) canonical = archive.string();
    if (archives_seen.insert(canonical).second) add_zip_members(archive, canonical, options, list);
  };
  for (const std::string& arg : paths) {
    std::error_code ec;
    const fs::path given(arg);
    const auto status = fs::status(given, ec);
    if (ec || !fs::exists(status)) throw UsageError("no such file or directory: " + arg);
    if (fs::is_directory(status)) {
      std::vector<fs::path> archives;  // zip archives in the tree are read like archives named
      add_directory(arg, forced, list, archives);
      std::sort(archives.begin(), archives.end());
      for (const fs::path& archive : archives) add_archive(archive);
    } else if (is_zip(given)) {
      add_archive(given);
    } else {
      InputRoot root;
      root.kind = InputRoot::Kind::kFile;
      root.open = arg;
      root.canonical = fs::weakly_canonical(given, ec).string();
      if (ec || root.canonical.empty()) root.canonical = arg;
      InputFile& f = list.add(list.add_root(std::move(root)), given.filename().string(), fs::file_size(given, ec));
      f.forced = forced != Dataset::kUnknown;
      f.hint = f.forced ? forced : dataset_hint_from_path(list.source_path(f));
    }
  }
  drop_repeated_paths(list);
  for (InputFile& f : list.files) {
    const FileNameInfo name = parse_file_name(list.source_file(f));
    f.key_cik = name.cik;
    f.key_page = name.page;
  }
  // An input without an SEC name stays in every shard until its content gives it a CIK
  // (resolve_identities; the supervisor shards again then).
  if (options.shard_count > 1)
    std::erase_if(list.files, [&](const InputFile& f) {
      return f.key_cik >= 0 && shard_of(list, f, options.shard_count) != options.shard_index;
    });
  return list;
}

InputBytes read_input(const InputList& list, const InputFile& file, std::uint64_t max_bytes, std::uint64_t prefix) {
  InputBytes out;
  if (file.error != 0) {
    out.error = list.open_error(file);
    return out;
  }
  const std::string path = list.path(file);
  if (file.size > max_bytes && prefix >= file.size) {
    out.error = fmt::format("{} bytes, larger than --max-file-size", file.size);
    return out;
  }
  const std::uint64_t wanted = std::min(file.size, prefix);
  out.bytes.assign(wanted + ipc::kTailPadding, '\0');
  if (file.zip_member < 0) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
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
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (zip == nullptr) {
    out.error = "cannot read zip archive " + path + ": " + zip_error_text(code);
    return out;
  }
  zip_file_t* member = zip_fopen_index(zip, static_cast<zip_uint64_t>(file.zip_member), 0);
  if (member == nullptr) {
    out.error = fmt::format("cannot open member {} of {}: {}", list.name(file), path, zip_strerror(zip));
  } else {
    zip_int64_t n = 0;
    while (out.length < wanted && (n = zip_fread(member, out.bytes.data() + out.length, wanted - out.length)) > 0)
      out.length += static_cast<std::size_t>(n);
    if (n < 0) out.error = fmt::format("member {} of {}: {}", list.name(file), path, zip_file_strerror(member));
    zip_fclose(member);
  }
  zip_discard(zip);
  if (!out.error.empty()) out.bytes.clear(), out.length = 0;
  return out;
}

}  // namespace edgarpipe
