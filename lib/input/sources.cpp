#include "edgarpipe/input/sources.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/input/input_reader.hpp"
#include "edgarpipe/input/zip_archive.hpp"
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

// InputFile::source_stamp of a zip member and of a file. Never 0 (0 is "no stamp").
std::uint64_t stamp_of(std::uint64_t kind, std::uint64_t a, std::uint64_t b, std::uint64_t c) noexcept {
  const std::uint64_t parts[4] = {kind, a, b, c};
  const std::uint64_t h = XXH3_64bits(parts, sizeof parts);
  return h == 0 ? 1 : h;
}
std::uint64_t zip_member_stamp(const ZipEntry& e) noexcept { return stamp_of(1, e.crc32, e.size, e.compressed_size); }
std::uint64_t file_stamp(const struct stat& st) noexcept {
  return stamp_of(2, static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_mtim.tv_sec),
                  static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
}

// a + b < c + d (bytes compared unsigned, as std::string does), without joining them.
bool concat_less(std::string_view a, std::string_view b, std::string_view c, std::string_view d) noexcept {
  if (a == c) return b < d;  // the common case: the same folder
  const auto at = [](std::string_view x, std::string_view y, std::size_t i) {
    return static_cast<unsigned char>(i < x.size() ? x[i] : y[i - x.size()]);
  };
  const std::size_t left = a.size() + b.size(), right = c.size() + d.size();
  for (std::size_t i = 0; i < left && i < right; ++i)
    if (at(a, b, i) != at(c, d, i)) return at(a, b, i) < at(c, d, i);
  return left < right;
}

// The *.json members of an archive, sorted by name. A corrupt or truncated archive yields one
// input carrying the reason, so it is reported and recorded like a bad file while every other
// input still loads.
void add_zip_members(const fs::path& archive, const std::string& canonical_archive, const InputOptions& options,
                     InputList& list) {
  // A root per folder in the archive (its prefix), so each member keeps only its file name: the
  // folder of a million members is stored once.
  std::unordered_map<std::string, std::uint32_t> folders;
  const auto root_of = [&](std::string_view folder) {
    auto [it, added] = folders.try_emplace(std::string(folder), 0);
    if (added) {
      InputRoot root;
      root.kind = InputRoot::Kind::kArchive;
      root.open = archive.string();
      root.canonical = canonical_archive;
      root.prefix = folder;
      it->second = list.add_root(std::move(root));
    }
    return it->second;
  };
  const std::size_t first = list.files.size();
  const std::string canonical_dir = canonical_archive + "/";  // dataset hints come from member directories too
  const auto add = [&](const ZipEntry& e) -> InputFile& {
    const std::size_t slash = e.name.rfind('/') + 1;  // 0 when at the top
    InputFile& f = list.add(root_of(e.name.substr(0, slash)), e.name.substr(slash), e.size);
    f.zip_member = static_cast<std::int32_t>(e.directory_offset);
    f.hint = dataset_hint_from_path(canonical_dir + std::string(e.name));
    return f;
  };
  const std::string error = list_zip(archive.string(), [&](const ZipEntry& e) {
    if (e.name.empty() || e.is_directory()) return;
    if (is_zip(fs::path(e.name))) {  // may hold any filer: a reject, so --prune knows the snapshot is not whole
      InputFile& nested = add(e);
      nested.size = 0;
      list.set_open_error(nested,
                          "a zip archive inside a zip archive is not read (extract it and name it as an input)");
      return;
    }
    if (!is_json_name(fs::path(e.name))) return;
    InputFile& f = add(e);
    f.source_stamp = zip_member_stamp(e);
    if (e.compressed_size > 0 && e.method != 0) {
      const double ratio = static_cast<double>(e.size) / static_cast<double>(e.compressed_size);
      if (ratio > options.max_compression_ratio)
        list.set_open_error(f, fmt::format("member {} of {} expands {} times, over the limit of {} (a zip bomb?); "
                                           "not inflated",
                                           e.name, archive.string(), static_cast<long long>(ratio),
                                           static_cast<long long>(options.max_compression_ratio)));
    }
  });
  if (!error.empty()) {
    // Unreadable as a whole: one input carrying the reason, named by the archive's path, in
    // place of any member listed before the damage was found.
    list.files.resize(first);
    InputRoot whole;
    whole.kind = InputRoot::Kind::kFile;  // its path names it: no member
    whole.open = archive.string();
    whole.canonical = canonical_archive;
    InputFile& bad = list.add(list.add_root(std::move(whole)), archive.filename().string(), 0);
    bad.hint = dataset_hint_from_path(canonical_archive);
    list.set_open_error(bad, error);
    return;
  }
  std::sort(list.files.begin() + static_cast<std::ptrdiff_t>(first), list.files.end(),
            [&](const InputFile& x, const InputFile& y) {
              return concat_less(list.root(x).prefix, list.name(x), list.root(y).prefix, list.name(y));
            });
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

// Why a symbolic link leads nowhere, for a reject's reason; "" when it leads somewhere.
std::string broken_link_reason(const fs::path& link) {
  struct stat st {};
  if (::stat(link.c_str(), &st) == 0) return {};
  const int err = errno;
  if (err == ELOOP) return "a symbolic link loop";
  std::error_code ec;
  const std::string target = fs::read_symlink(link, ec).string();
  if (err == ENOENT || err == ENOTDIR) return fmt::format("broken symbolic link to {}", target);
  return fmt::format("symbolic link to {}: {}", target, std::strerror(err));
}

// What an input named like a data file is when it is not a regular file. It is never opened: a
// FIFO would block the reader until some writer opened it.
std::string special_file_reason(fs::file_type type) {
  const char* what = "a special file";
  if (type == fs::file_type::fifo) what = "a FIFO";
  if (type == fs::file_type::socket) what = "a socket";
  if (type == fs::file_type::block) what = "a block device";
  if (type == fs::file_type::character) what = "a character device";
  return fmt::format("not a regular file ({}); not opened", what);
}

// An input that cannot be read at all (an unreadable folder, a broken link, a FIFO), carrying
// the reason: it is rejected like a bad file, so it is reported and recorded, never skipped, and
// --prune knows the snapshot was not read whole.
void add_unreadable(InputList& list, std::string open, std::string canonical, std::string prefix, std::string_view name,
                    std::string why) {
  InputRoot root;
  root.kind = InputRoot::Kind::kFile;
  root.open = std::move(open);
  root.canonical = std::move(canonical);
  root.prefix = std::move(prefix);
  InputFile& f = list.add(list.add_root(std::move(root)), name, 0);
  f.hint = dataset_hint_from_path(list.source_path(f));
  list.set_open_error(f, std::move(why));
}

// The *.json files under a directory, in path order, and the zip archives among them. Each
// folder is a root whose canonical path is its parent's plus its name, so 944k files cost no
// readlink calls; a symbolic link to a file is resolved as a root of its own, and a symbolic link
// to a folder is followed after the real folders (a folder reached twice is listed once). What is
// there but cannot be read (a folder, a broken or looping link, a FIFO named *.json) becomes an
// input carrying the reason.
void add_directory(const std::string& arg, InputList& list, std::vector<fs::path>& archives) {
  struct Folder {
    fs::path open;
    std::string canonical;  // without a trailing '/'
    std::string parent;     // the parent's prefix: relative to `arg`, with '/' ("" for arg itself)
    std::string name;
    std::string prefix() const { return name.empty() ? std::string() : parent + name + "/"; }
  };
  std::error_code ec;
  const fs::path top = fs::path(arg).lexically_normal();
  std::string canonical_top = fs::weakly_canonical(top, ec).string();
  if (ec || canonical_top.empty()) canonical_top = fs::absolute(top, ec).lexically_normal().string();
  while (canonical_top.size() > 1 && canonical_top.back() == '/') canonical_top.pop_back();
  std::vector<Folder> real{{top, canonical_top, "", ""}}, linked;
  std::unordered_set<std::string> walked;  // canonical paths of the folders listed
  const std::size_t first = list.files.size();
  while (!real.empty() || !linked.empty()) {
    std::vector<Folder>& from = real.empty() ? linked : real;
    const Folder folder = std::move(from.back());
    from.pop_back();
    if (!walked.insert(folder.canonical).second) continue;
    std::string folder_open = folder.open.string();
    if (folder_open.back() != '/') folder_open += '/';
    const std::string prefix = folder.prefix();
    std::uint32_t root = UINT32_MAX;  // the folder's root, made for its first file
    const auto unreadable = [&](std::string why) {
      std::string name = folder.name.empty() ? top.filename().string() : folder.name;
      if (name.empty() || name == ".") name = fs::path(canonical_top).filename().string();
      add_unreadable(list, folder.open.string(), folder.canonical, folder.parent, name,
                     fmt::format("cannot read folder {}: {}", folder.open.string(), why));
    };
    fs::directory_iterator it(folder.open, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& entry = *it;
      const std::string name = entry.path().filename().string();
      std::error_code type_ec;
      fs::file_type type = entry.symlink_status(type_ec).type();  // from the listing: no syscall
      const bool link = type == fs::file_type::symlink;
      if (link) {
        if (std::string why = broken_link_reason(entry.path()); !why.empty()) {
          add_unreadable(list, entry.path().string(), folder.canonical + "/" + name, prefix, name, why);
          continue;
        }
        type = fs::status(entry.path(), type_ec).type();
      }
      if (type_ec) {
        add_unreadable(list, entry.path().string(), folder.canonical + "/" + name, prefix, name,
                       fmt::format("cannot stat: {}", type_ec.message()));
        continue;
      }
      if (type == fs::file_type::directory) {
        if (!link) {
          real.push_back({entry.path(), folder.canonical + "/" + name, prefix, name});
        } else {
          std::string canonical = fs::canonical(entry.path(), type_ec).string();
          if (!type_ec) linked.push_back({entry.path(), std::move(canonical), prefix, name});
        }
        continue;
      }
      const bool json = is_json_name(name), zip = !json && is_zip(name);
      if (!json && !zip) continue;
      if (type != fs::file_type::regular) {
        add_unreadable(list, entry.path().string(), folder.canonical + "/" + name, prefix, name,
                       special_file_reason(type));
        continue;
      }
      if (zip) {
        archives.push_back(entry.path());
        continue;
      }
      struct stat st {};
      const bool stated = ::stat(entry.path().c_str(), &st) == 0;  // size and mtime in one call
      std::uint32_t file_root;
      if (link) {
        InputRoot own;
        own.kind = InputRoot::Kind::kFile;
        own.open = entry.path().string();
        own.canonical = fs::weakly_canonical(entry.path(), type_ec).string();
        own.prefix = prefix;
        file_root = list.add_root(std::move(own));
      } else {
        if (root == UINT32_MAX) {
          InputRoot dir;
          dir.kind = InputRoot::Kind::kDirectory;
          dir.open = folder_open;
          dir.canonical = folder.canonical + "/";
          dir.prefix = prefix;
          root = list.add_root(std::move(dir));
        }
        file_root = root;
      }
      InputFile& f = list.add(file_root, name, stated ? static_cast<std::uint64_t>(st.st_size) : 0);
      if (stated) f.source_stamp = file_stamp(st);
      f.hint = dataset_hint_from_path(list.source_path(f));
    }
    if (ec) unreadable(ec.message());
    ec.clear();
  }
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
      return r.canonical + ":" + r.prefix + std::string(name(f));
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
    if (fs::is_symlink(fs::symlink_status(given, ec)))
      if (const std::string why = broken_link_reason(given); !why.empty())
        throw UsageError(std::string(arg).append(": ").append(why));
    const auto status = fs::status(given, ec);
    if (ec || !fs::exists(status)) throw UsageError("no such file or directory: " + arg);
    if (fs::is_directory(status)) {
      std::vector<fs::path> archives;  // zip archives in the tree are read like archives named
      add_directory(arg, list, archives);
      std::sort(archives.begin(), archives.end());
      for (const fs::path& archive : archives) add_archive(archive);
    } else if (!fs::is_regular_file(status)) {
      add_unreadable(list, arg, fs::absolute(given, ec).lexically_normal().string(), "", given.filename().string(),
                     special_file_reason(status.type()));
    } else if (is_zip(given)) {
      add_archive(given);
    } else {
      InputRoot root;
      root.kind = InputRoot::Kind::kFile;
      root.open = arg;
      root.canonical = fs::weakly_canonical(given, ec).string();
      if (ec || root.canonical.empty()) root.canonical = arg;
      struct stat st {};
      const bool stated = ::stat(arg.c_str(), &st) == 0;
      InputFile& f = list.add(list.add_root(std::move(root)), given.filename().string(),
                              stated ? static_cast<std::uint64_t>(st.st_size) : 0);
      if (stated) f.source_stamp = file_stamp(st);
      f.hint = dataset_hint_from_path(list.source_path(f));
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

InputBytes read_input(const InputList& list, const InputFile& file, InputReader& reader, std::uint64_t max_bytes,
                      std::uint64_t prefix) {
  InputBytes out;
  if (file.error != 0) {
    out.error = list.open_error(file);
    return out;
  }
  out.error = reader.open(list.path(file), file.zip_member, list.source_file(file), file.size);
  if (!out.error.empty()) return out;
  if (reader.size() > max_bytes && prefix >= reader.size()) {
    out.error = fmt::format("{} bytes, larger than --max-file-size", reader.size());
    return out;
  }
  const std::uint64_t wanted = std::min(reader.size(), prefix);
  out.bytes.assign(wanted + ipc::kTailPadding, '\0');
  std::uint64_t got = 0;
  out.error = reader.read(std::span(reinterpret_cast<std::byte*>(out.bytes.data()), wanted), got);
  reader.close();
  if (!out.error.empty()) {
    out.bytes.clear();
    return out;
  }
  out.length = got;
  return out;
}

}  // namespace edgarpipe
