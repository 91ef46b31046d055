#include "progress_output.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>

#include "edgarpipe/core/log.hpp"

namespace edgarpipe {

namespace {

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && std::atoi(columns) > 0)
    return static_cast<std::size_t>(std::atoi(columns));
  return 80;
}

}  // namespace

// What the progress line shows, from the stages' counters (progress.hpp).
ProgressSample progress_sample(const PipelineLayout& layout, double seconds, std::uint64_t bytes_total) {
  ProgressSample p;
  p.seconds = seconds;
  p.files_total = layout.header().file_count;
  p.bytes_total = bytes_total;
  for (std::uint32_t s = 0; s < layout.slot_count(); ++s) {
    const auto& slot = layout.slot(s);
    p.files_done +=
        slot.get(counter::kFilesLoaded) + slot.get(counter::kFilesRejected) + slot.get(counter::kFilesSkipped);
    p.bytes_done += slot.get(counter::kBytesDone);
    p.bytes_read += slot.get(counter::kBytesRead);
    p.rejected += slot.get(counter::kFilesRejected);
    for (std::uint32_t k = 0; k < kTableCount; ++k) p.rows += slot.get(counter::kRowsFirst + k);
    const auto role = slot.role.load();
    if (role < 1 || role > 3) continue;
    ++p.processes[role - 1];
    p.waited_seconds[role - 1] +=
        static_cast<double>(slot.get(counter::kWaitInputNs) + slot.get(counter::kWaitOutputNs)) / 1e9;
  }
  return p;
}

// On a terminal, one line redrawn in place, a column short of the width (a full line wraps on
// some terminals); elsewhere a plain line, or a JSON line with the figures as members.
void print_progress(const ProgressMeter& meter, bool terminal) {
  if (terminal) {
    fmt::print(stderr, "\r\033[K{}", meter.line(terminal_width() - 1));
  } else if (log::settings().format == log::Format::kJson) {
    const ProgressSample& p = meter.latest();
    const nlohmann::ordered_json progress = {{"progress",
                                              {{"seconds", std::round(p.seconds * 10) / 10},
                                               {"files_done", p.files_done},
                                               {"files_total", p.files_total},
                                               {"bytes_done", p.bytes_done},
                                               {"bytes_total", p.bytes_total},
                                               {"bytes_read", p.bytes_read},
                                               {"rows", p.rows},
                                               {"rejected", p.rejected}}}};
    log::write(log::Level::kInfo, meter.line(SIZE_MAX), progress.dump());
  } else {
    log::write(log::Level::kInfo, meter.line(SIZE_MAX));
  }
}

}  // namespace edgarpipe
