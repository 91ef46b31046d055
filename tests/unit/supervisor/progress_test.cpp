// The progress line (progress.hpp): committed figures only, rates over the window and not since
// the start, the ETA from the windowed byte rate, busy shares from the stages' waits, and a line
// that never exceeds the width it is given, keeping the most useful parts.
#include <catch2/catch.hpp>

#include <string>

#include "edgarpipe/supervisor/progress.hpp"

using namespace edgarpipe;

namespace {

ProgressSample at(double seconds, std::uint64_t files, std::uint64_t bytes) {
  ProgressSample s;
  s.seconds = seconds;
  s.files_done = files;
  s.files_total = 1000;
  s.bytes_done = bytes;
  s.bytes_read = bytes;
  s.bytes_total = 100'000'000;
  for (int r = 0; r < 3; ++r) s.processes[r] = 1;
  return s;
}

bool has(const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("progress: the first sample shows no rate and no ETA", "[progress]") {
  ProgressMeter meter;
  meter.add(at(0.2, 0, 0));
  const std::string line = meter.line(200);
  CHECK(has(line, "0:00 0/1000 files 0%"));
  CHECK(has(line, "0.0/100.0 MB"));
  CHECK(has(line, "ETA --"));
  CHECK_FALSE(has(line, "files/s"));
}

TEST_CASE("progress: rates follow the last window, not the run's average", "[progress]") {
  ProgressMeter meter(10);
  // 100 s at 0.5 MB/s, then 10 s at 5 MB/s: the run's average would be ~0.9 MB/s.
  for (int t = 0; t <= 100; ++t) {
    const auto n = static_cast<std::uint64_t>(t);
    meter.add(at(t, n, n * 500'000));
  }
  for (int t = 101; t <= 110; ++t) {
    const auto n = static_cast<std::uint64_t>(t - 100);
    meter.add(at(t, 100 + n * 5, 50'000'000 + n * 5'000'000));
  }
  const std::string line = meter.line(400);
  INFO(line);
  CHECK(has(line, "5.0 files/s 5.0 MB/s"));
  CHECK(has(line, "1:50 150/1000 files 15%"));
  // All 100 MB committed at t = 110.
  CHECK(has(line, "ETA 0:00"));
}

TEST_CASE("progress: the ETA divides the bytes left by the windowed byte rate", "[progress]") {
  ProgressMeter meter(10);
  meter.add(at(0, 0, 0));
  meter.add(at(10, 10, 20'000'000));  // 2 MB/s; 80 MB left: 40 s
  const std::string line = meter.line(400);
  INFO(line);
  CHECK(has(line, "ETA 0:40"));
  CHECK(has(line, "20.0/100.0 MB"));
}

TEST_CASE("progress: bytes read but not committed show apart as read ahead", "[progress]") {
  ProgressMeter meter;
  ProgressSample s = at(1, 3, 1'000'000);
  s.bytes_read = 4'500'000;
  meter.add(s);
  const std::string line = meter.line(400);
  INFO(line);
  CHECK(has(line, "1.0/100.0 MB"));
  CHECK(has(line, "3.5 MB read ahead"));
}

TEST_CASE("progress: busy shares are what each stage did not spend waiting in the window", "[progress]") {
  ProgressMeter meter(10);
  ProgressSample a = at(0, 0, 0), b = at(10, 10, 10'000'000);
  a.processes[1] = b.processes[1] = 2;  // two parsers: 20 process-seconds in the window
  b.waited_seconds[0] = 0.3;            // reader: 97% busy
  b.waited_seconds[1] = 11;             // parsers: 45%
  b.waited_seconds[2] = 7;              // writer: 30%
  meter.add(a);
  meter.add(b);
  const std::string line = meter.line(400);
  INFO(line);
  CHECK(has(line, "busy r 97% p 45% w 30%"));
}

TEST_CASE("progress: the line fits the width and keeps the most useful parts", "[progress]") {
  ProgressMeter meter(10);
  ProgressSample a = at(0, 0, 0), b = at(10, 400, 40'000'000);
  b.rows = 1'000'000;
  b.bytes_read = 45'000'000;
  b.rejected = 2;
  meter.add(a);
  meter.add(b);
  const std::string wide = meter.line(1000);
  INFO(wide);
  CHECK(has(wide, "rows/s"));
  CHECK(has(wide, "read ahead"));
  for (std::size_t width : {20u, 40u, 60u, 79u, 100u, 120u}) {
    const std::string line = meter.line(width);
    INFO(width << ": " << line);
    CHECK(line.size() <= width);
    CHECK((line.rfind("0:10 400/1000 files", 0) == 0 || width < 24));
    if (width >= 60) {
      CHECK(has(line, "ETA 0:15"));
      CHECK(has(line, "2 rejected"));  // rejects, once there are any, rank above the rates
    }
  }
  // A wider terminal never shows less.
  std::size_t last = 0;
  for (std::size_t width = 20; width <= 200; ++width) {
    const std::size_t n = meter.line(width).size();
    CHECK(n >= last);
    last = n;
  }
}

TEST_CASE("progress: number formats", "[progress]") {
  CHECK(format_elapsed(0) == "0:00");
  CHECK(format_elapsed(61.9) == "1:01");
  CHECK(format_elapsed(3723) == "1:02:03");
  CHECK(format_bytes(999) == "999 B");
  CHECK(format_bytes(15'249'000) == "15.2 MB");
  CHECK(format_bytes(2'314'000'000) == "2.31 GB");
  CHECK(format_bytes_of(0, 22'000'000'000) == "0.00/22.00 GB");
  CHECK(format_count(950) == "950");
  CHECK(format_count(52'100) == "52.1k");
  CHECK(format_count(3'400'000) == "3.40M");
}
