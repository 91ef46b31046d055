#include "edgarpipe/sources.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "edgarpipe/edgar_parser.hpp"

namespace fs = std::filesystem;

namespace edgarpipe {

namespace {
bool is_json_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".json";
}
}  // namespace

std::vector<InputFile> enumerate_inputs(const std::vector<std::string>& paths, Dataset forced) {
  std::vector<InputFile> files;
  std::set<std::string> seen;  // canonical paths
  auto add = [&](const fs::path& p, std::string source, std::uint64_t size) {
    std::error_code ec;
    const std::string canonical = fs::weakly_canonical(p, ec).string();
    if (!seen.insert(ec ? p.string() : canonical).second) return;
    InputFile f;
    f.path = p.string();
    f.source_file = std::move(source);
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
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && is_json_name(it->path())) found.push_back(it->path());
      }
      if (ec) throw UsageError("cannot walk directory " + arg + ": " + ec.message());
      std::sort(found.begin(), found.end());
      for (const auto& p : found) add(p, p.lexically_relative(root).generic_string(), fs::file_size(p, ec));
    } else {
      add(root, root.filename().string(), fs::file_size(root, ec));
    }
  }
  return files;
}

}  // namespace edgarpipe
