#include "run_summary.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <cmath>

#include "edgarpipe/core/log.hpp"

namespace edgarpipe {

void RunSummary::print_human() const {
  const double mb = static_cast<double>(bytes) / 1e6;
  const double secs = seconds > 0 ? seconds : 1e-9;
  std::vector<std::string> lines;
  lines.push_back(fmt::format("run {} {} in {:.2f} s: {} files seen, {} loaded, {} skipped, {}{} rejected", run_id,
                              status, seconds, files_seen, files_loaded, files_skipped,
                              files_duplicate ? fmt::format("{} duplicate, ", files_duplicate) : "", files_rejected));
  lines.push_back(fmt::format(
      "  {} rows, {:.1f} MB read ({:.0f} files/s, {:.1f} MB/s)", rows_total(), mb,
      static_cast<double>(files_loaded + files_rejected + files_skipped + files_duplicate) / secs, mb / secs));
  std::string per_table;
  for (std::size_t t = 0; t < kTableCount; ++t)
    per_table += fmt::format("{}{} {}", t ? ", " : "", table_def(static_cast<TableId>(t)).name, rows[t]);
  lines.push_back(fmt::format("  rows by table: {}", per_table));
  if (unknown_columns) lines.push_back(fmt::format("  {} unknown filings columns ignored", unknown_columns));
  if (!busy.empty()) {
    std::string line;
    for (const char* role : {"reader", "parser", "writer"})
      if (busy.count(role)) line += fmt::format("{}{}s {:.0f}%", line.empty() ? "" : ", ", role, 100 * busy.at(role));
    lines.push_back(fmt::format("  busy: {}; bottleneck: {}s{}", line, bottleneck,
                                suggestion.empty()               ? ""
                                : suggestion.rfind("--", 0) == 0 ? fmt::format(" (try {})", suggestion)
                                                                 : fmt::format(" ({})", suggestion)));
  }
  std::string procs;
  for (const auto& s : stages)
    procs += fmt::format("{}{} {}{}", procs.empty() ? "" : ", ", s.pids.size(), role_name(s.role),
                         s.pids.size() == 1 ? "" : "s");
  lines.push_back(fmt::format("  stages: {}", procs.empty() ? "none started (nothing to read)" : procs));
  for (const auto& s : stages) {
    if (s.busy.size() < 2) continue;
    const auto [least, most] = std::minmax_element(s.busy.begin(), s.busy.end());
    if (*most - *least < 0.3) continue;
    std::string each;
    for (double b : s.busy) each += fmt::format("{}{:.0f}%", each.empty() ? "" : ", ", 100 * b);
    lines.push_back(fmt::format("  uneven {}s: busy {}", role_name(s.role), each));
  }
  if (index_seconds > 0)
    lines.push_back(fmt::format("  index build: {} secondary indexes in {:.1f} s, {:.0f}% of the run", indexes_built,
                                index_seconds, 100 * index_seconds / secs));
  for (const auto& why : restarts) lines.push_back(fmt::format("  restarted after: {}", why));
  if (!failure.empty()) lines.push_back(fmt::format("  failure: {}", failure));

  const log::Level level = status == "failed"                            ? log::Level::kError
                           : files_rejected > 0 || status != "completed" ? log::Level::kWarning
                                                                         : log::Level::kInfo;
  if (!log::enabled(level)) return;
  if (log::settings().format == log::Format::kJson) {
    log::write(level, lines.front(),
               nlohmann::ordered_json{{"summary", to_json()}}.dump(-1, ' ', false,
                                                                   nlohmann::ordered_json::error_handler_t::replace));
    return;
  }
  log::write(level, lines.front());
  std::string rest;
  for (std::size_t i = 1; i < lines.size(); ++i) rest += lines[i] + '\n';
  fmt::print(stderr, "{}", rest);
}

nlohmann::ordered_json RunSummary::to_json() const {
  const auto rounded = [](double x) { return std::round(x * 1000) / 1000; };
  const auto rounded_all = [&](const std::vector<double>& v) {
    auto out = nlohmann::json::array();
    for (double x : v) out.push_back(rounded(x));
    return out;
  };
  nlohmann::ordered_json rows_by_table = nlohmann::ordered_json::object();
  for (std::size_t t = 0; t < kTableCount; ++t) rows_by_table[table_def(static_cast<TableId>(t)).name] = rows[t];
  nlohmann::ordered_json stages_by_role = nlohmann::ordered_json::object();
  for (const auto& st : stages)
    stages_by_role[std::string(role_name(st.role))] = {{"processes", st.pids.size()},
                                                       {"pids", st.pids},
                                                       {"busy", rounded_all(st.busy)},
                                                       {"waiting_for_input_s", rounded_all(st.wait_input_s)},
                                                       {"waiting_for_output_s", rounded_all(st.wait_output_s)}};
  nlohmann::ordered_json busy_by_role = nlohmann::ordered_json::object();
  for (const auto& [role, fraction] : busy) busy_by_role[role] = rounded(fraction);
  auto pruned_filers = nlohmann::json::array();
  for (const auto& [dataset, cik] : pruned) pruned_filers.push_back({{"dataset", dataset_name(dataset)}, {"cik", cik}});
  return {{"run_id", run_id},
          {"supervisor_pid", ::getpid()},
          {"status", status},
          {"sink", sink},
          {"files_seen", files_seen},
          {"files_loaded", files_loaded},
          {"files_skipped", files_skipped},
          {"files_duplicate", files_duplicate},
          {"files_rejected", files_rejected},
          {"rows", rows_by_table},
          {"rows_total", rows_total()},
          {"bytes", bytes},
          {"seconds", rounded(seconds)},
          {"unknown_columns", unknown_columns},
          {"stages", stages_by_role},
          {"stage_busy", busy_by_role},
          {"bottleneck", bottleneck},
          {"suggestion", suggestion},
          {"restarts", restarts.size()},
          {"filers_pruned", filers_pruned},
          {"index_seconds", rounded(index_seconds)},
          {"indexes_built", indexes_built},
          {"pruned", pruned_filers},
          {"failure", failure}};
}

}  // namespace edgarpipe
