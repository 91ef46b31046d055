#include "edgarpipe/core/file_names.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace edgarpipe {

FileNameInfo parse_file_name(std::string_view path) noexcept {
  FileNameInfo info;
  const auto slash = path.find_last_of('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto digits = [](std::string_view s) {
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return !s.empty();
  };
  // Letter case is not part of a name's meaning (a copy from a case-insensitive file system).
  auto same = [](std::string_view s, std::string_view lower) {
    if (s.size() != lower.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))) != lower[i]) return false;
    return true;
  };
  if (name.size() < 3 + 10 + 5 || !same(name.substr(0, 3), "cik") || !digits(name.substr(3, 10))) return info;
  std::int64_t cik = 0;
  std::from_chars(name.data() + 3, name.data() + 13, cik);
  std::string_view rest = name.substr(13);
  if (same(rest, ".json")) {
    info.cik = cik;
    info.page = 0;
  } else if (rest.size() > 13 + 5 && same(rest.substr(0, 13), "-submissions-") &&
             same(rest.substr(rest.size() - 5), ".json") && rest.size() - 18 <= 6 &&
             digits(rest.substr(13, rest.size() - 18))) {
    info.cik = cik;
    info.overflow_page = true;
    std::from_chars(rest.data() + 13, rest.data() + rest.size() - 5, info.page);
    if (info.page == 0) info = FileNameInfo{};  // pages count from 1: page 0 is the main file
  }
  return info;
}

std::string sec_file_name(std::int64_t cik, std::int32_t page) {
  char buf[64];
  if (page > 0)
    std::snprintf(buf, sizeof buf, "CIK%010lld-submissions-%03d.json", static_cast<long long>(cik), page);
  else
    std::snprintf(buf, sizeof buf, "CIK%010lld.json", static_cast<long long>(cik));
  return buf;
}

Dataset dataset_hint_from_path(std::string_view path) noexcept {
  // The innermost directory component that names a dataset wins ("…/companyfacts/CIK….json").
  Dataset hint = Dataset::kUnknown;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) break;  // the last component is the file name
    std::string_view part = path.substr(start, end - start);
    if (part.find("companyfacts") != std::string_view::npos)
      hint = Dataset::kCompanyfacts;
    else if (part.find("submissions") != std::string_view::npos)
      hint = Dataset::kSubmissions;
    start = end + 1;
  }
  return hint;
}

}  // namespace edgarpipe
