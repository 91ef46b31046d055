// `edgarpipe fetch` and `edgarpipe sync`: from the SEC to the database, politely.
//
// fetch downloads the nightly bulk archives (submissions.zip, companyfacts.zip) into --out, or
// with --since the documents of the filers that filed since a day (the SEC's daily master
// index lists them; the per-company API serves their current documents). Every request:
//   - carries the operator's User-Agent, which must hold a contact e-mail (the SEC's fair-access
//     rule; the SEC refuses undeclared clients);
//   - is spaced so that at most --max-rate (at most 10, the SEC's limit) start in any second;
//   - is conditional where a copy exists (If-None-Match / If-Modified-Since from the validators
//     kept in DIR/.edgarpipe-fetch.json): an unchanged archive is not downloaded again;
//   - is retried on 429, 5xx and transport errors with exponential backoff that honours
//     Retry-After; a 403 (the SEC's block page) ends the fetch with what to do.
// An archive downloads into NAME.part, resumes with Range/If-Range after a dropped connection,
// and is renamed over NAME only once complete and readable as a zip (length, central directory
// consistent with the local headers); the readers check every member's CRC when loading.
//
// sync runs fetch and then `edgarpipe run` over what it brought, under a lock on DIR so that two
// syncs never overlap; with nothing new since the last completed load into the same sink it loads
// nothing. Increments accumulate in DIR/daily/ (the latest copy of each document fetched), which
// each --since sync loads (unchanged documents are skipped by their hash); a --full sync clears
// it once loaded, since the snapshot is newer than every increment before it.
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgarpipe/cli/commands.hpp"
#include "edgarpipe/core/calendar.hpp"
#include "edgarpipe/core/file_names.hpp"
#include "edgarpipe/core/log.hpp"
#include "edgarpipe/input/sources.hpp"
#include "edgarpipe/parse/edgar_parser.hpp"
#include "edgarpipe/sink/sink.hpp"
#include "edgarpipe/supervisor/supervisor.hpp"

namespace edgarpipe {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kSecMaxRate = 10;  // requests per second: the SEC's published limit

constexpr const char* kFetchUsage =
    R"(usage: edgarpipe fetch --user-agent "Org Name admin@example.com" --out DIR [options] [DATASET...]

Downloads the SEC's nightly bulk archives into DIR (DATASET: submissions, companyfacts; default
both), or with --since the current documents of the filers that filed since a day.

  --user-agent TEXT   who you are, with a contact e-mail (required by the SEC; also from
                      EDGARPIPE_USER_AGENT)
  --out DIR           where the archives and DIR/daily/ go (created if missing)
  --since DATE|last   daily increments: every business day from DATE (YYYY-MM-DD) or from the
                      day after the last one fetched, through --until
  --until DATE        the last day of --since (default: today, UTC)
  --max-rate N        requests per second, at most 10 (default 10)
  --retries N         attempts per request on 429, 5xx and transport errors (default 6)
  --retry-wait S      the first backoff in seconds, doubled each time (default 1)
  --timeout S         give up a transfer that moves no byte for S seconds (default 60)
  --base-url URL      the SEC Archives root (default https://www.sec.gov/Archives/edgar)
  --api-url URL       the per-company API root (default https://data.sec.gov)
  --summary-json FILE what was fetched, as JSON
  --progress WHEN     auto (on a terminal) | always | never (default auto)

exit status: 0 fetched or unchanged, 1 failed (the reason on stderr), 2 usage error
example: edgarpipe fetch --user-agent "Acme Research data@acme.example" --out /data/sec
)";

constexpr const char* kSyncUsage =
    R"(usage: edgarpipe sync --sink URL --user-agent TEXT --out DIR [--full | --since DATE|last] [options] [-- RUN OPTIONS]

Fetches (as `edgarpipe fetch`) and loads what changed into the sink (as `edgarpipe run`), in one
command with one exit status; a second sync while one runs on DIR exits with a message (or waits,
with --wait). --full (the default): the bulk archives, loaded with --prune. --since: the filers
that filed since DATE (or since the last sync), loaded without pruning. Options after `--` go to
`edgarpipe run` (e.g. -- --writers 2). Also takes fetch's options.

exit status: that of the load (0, 3 some files rejected), or 1 if the fetch or the load failed,
2 usage error
example: edgarpipe sync --sink sqlite:/data/edgar.db --user-agent "Acme data@acme.example" --out /data/sec --since last
)";

struct FetchOptions {
  std::string user_agent;
  std::string out;
  std::vector<std::string> datasets;  // submissions, companyfacts
  std::string since;                  // "", "last" or YYYY-MM-DD
  std::string until;
  double max_rate = kSecMaxRate;
  int retries = 6;
  double retry_wait = 1;
  long timeout = 60;
  std::string base_url = "https://www.sec.gov/Archives/edgar";
  std::string api_url = "https://data.sec.gov";
  std::string summary_json;
  std::string progress = "auto";
};

// ---------------------------------------------------------------------------------------------
// Dates (UTC days), for the daily index.

struct Day {
  int y = 0, m = 0, d = 0;
  std::string iso() const { return fmt::format("{:04}-{:02}-{:02}", y, m, d); }
  std::string compact() const { return fmt::format("{:04}{:02}{:02}", y, m, d); }
  int quarter() const { return (m - 1) / 3 + 1; }
  std::time_t epoch() const {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    return timegm(&tm);
  }
  static Day of(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    return {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
  }
  Day next() const { return of(epoch() + 86400); }
  Day previous() const { return of(epoch() - 86400); }
  bool weekend() const {
    std::tm tm{};
    const std::time_t t = epoch();
    gmtime_r(&t, &tm);
    return tm.tm_wday == 0 || tm.tm_wday == 6;
  }
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Day&) const = default;
};

std::optional<Day> parse_day(std::string_view text) {
  unsigned y = 0, m = 0, d = 0;
  if (text.size() != 10 || !is_date(text) || !split_date(text, y, m, d)) return std::nullopt;
  return Day{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d)};
}

// ---------------------------------------------------------------------------------------------
// State kept beside the files: validators of what was fetched, the last day of increments, and
// what each sink last loaded. Written to a temporary file and renamed.

class FetchState {
 public:
  explicit FetchState(const fs::path& dir) : path_(dir / ".edgarpipe-fetch.json") {
    std::ifstream in(path_);
    if (!in) return;
    try {
      in >> doc_;
    } catch (const json::exception& e) {
      throw std::runtime_error(
          fmt::format("{} is not valid JSON ({}); remove it to start over", path_.string(), e.what()));
    }
  }
  json& operator[](const char* key) { return doc_[key]; }
  const json& doc() const { return doc_; }
  void save() const {
    const fs::path tmp = path_.string() + ".tmp";
    {
      std::ofstream out(tmp);
      out << doc_.dump(2) << "\n";
      if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, path_);
  }

 private:
  fs::path path_;
  json doc_ = json::object();
};

// ---------------------------------------------------------------------------------------------
// HTTP with libcurl: one easy handle reused (keep-alive), requests spaced by the rate limit.

struct Response {
  long status = 0;
  CURLcode code = CURLE_OK;
  std::string error;                           // transport error text
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // when not written to a file
  std::uint64_t written = 0;                   // bytes written to the file
};

class Fatal : public std::runtime_error {  // ends the fetch: no retry helps
  using std::runtime_error::runtime_error;
};

class Http {
 public:
  Http(const FetchOptions& o, bool progress) : o_(o), progress_(progress) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ = curl_easy_init();
    if (!curl_) throw std::runtime_error("cannot initialise libcurl");
    // At most max_rate request starts in any second: starts at least 1/rate apart (plus a
    // margin for the clocks of the two ends).
    spacing_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.max_rate + 0.005));
  }
  ~Http() {
    curl_easy_cleanup(curl_);
    curl_global_cleanup();
  }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  std::uint64_t requests() const noexcept { return requests_; }
  std::uint64_t retries() const noexcept { return retries_; }

  struct Hooks {
    // The headers of a retry, from the attempt before it (a download resumes where it stopped).
    std::function<std::vector<std::string>(const Response& previous)> resume;
    // Called once a response's headers are in, before its body.
    std::function<void(const Response&)> headers_done;
  };

  // GET `url`, retried as the header says; `file` (appended to) or the body in memory. `what`
  // names it in messages. Returns the final response (2xx, 304, 404 or another 4xx).
  Response get(const std::string& url, const std::vector<std::string>& headers, std::FILE* file,
               const std::string& what, const Hooks& hooks = {}) {
    double wait = o_.retry_wait;
    std::vector<std::string> h = headers;
    for (int attempt = 1;; ++attempt) {
      Response r = once(url, h, file, what, hooks);
      const bool transport = r.code != CURLE_OK;
      const bool busy = r.status == 429 || (r.status >= 500 && r.status <= 599);
      if (!transport && r.status == 403) throw Fatal(blocked(what, r));
      if (!transport && !busy) return r;
      if (attempt >= o_.retries)
        throw Fatal(fmt::format("{}: {} after {} attempts", what,
                                transport ? r.error : fmt::format("HTTP {}", r.status), attempt));
      double pause = wait;
      if (const auto it = r.headers.find("retry-after"); it != r.headers.end()) pause = retry_after(it->second, wait);
      log::warning("{}: {}; trying again in {:.1f} s ({} of {})", what,
                   transport ? r.error : fmt::format("HTTP {}", r.status), pause, attempt + 1, o_.retries);
      ++retries_;
      if (hooks.resume) h = hooks.resume(r);  // only for a retry: a finished download stays as it is
      std::this_thread::sleep_for(std::chrono::duration<double>(pause));
      wait = std::min(wait * 2, 60.0);
    }
  }

 private:
  static std::string blocked(const std::string& what, const Response& r) {
    const bool rate = r.body.find("Request Rate Threshold Exceeded") != std::string::npos;
    return fmt::format(
        "{}: the SEC refused the request (HTTP 403{}): its fair-access policy blocks clients that send more than "
        "10 requests per second or no User-Agent with a contact e-mail; wait 10 minutes, check --user-agent, and "
        "lower --max-rate",
        what, rate ? ", \"Request Rate Threshold Exceeded\"" : "");
  }

  // Retry-After: seconds, or an HTTP date; bounded so a hostile value cannot stall a cron job.
  static double retry_after(const std::string& value, double fallback) {
    char* end = nullptr;
    const double seconds = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0') return std::clamp(seconds, 0.0, 600.0);
    const std::time_t when = curl_getdate(value.c_str(), nullptr);
    if (when < 0) return fallback;
    return std::clamp(static_cast<double>(when - std::time(nullptr)), 0.0, 600.0);
  }

  void pace() {
    const auto now = Clock::now();
    if (last_start_ && now < *last_start_ + spacing_) std::this_thread::sleep_until(*last_start_ + spacing_);
    last_start_ = Clock::now();
  }

  struct Transfer {
    Http* http;
    Response* response;
    std::FILE* file;
    std::string what;
    Clock::time_point started;
    std::uint64_t offset = 0;  // bytes already in the file before this request
    Clock::time_point shown;
    const Hooks* hooks;
  };

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) t->response->headers.clear();  // a new response (after a redirect)
    if ((line == "\r\n" || line == "\n") && t->hooks->headers_done) {
      curl_easy_getinfo(t->http->curl_, CURLINFO_RESPONSE_CODE, &t->response->status);
      t->hooks->headers_done(*t->response);
    }
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
      t->response->headers[name] = value;
    }
    return size * n;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    long status = 0;
    curl_easy_getinfo(t->http->curl_, CURLINFO_RESPONSE_CODE, &status);
    const std::size_t bytes = size * n;
    // Only a successful body goes to the file; an error page is kept to be read.
    if (t->file && (status == 200 || status == 206)) {
      if (std::fwrite(data, 1, bytes, t->file) != bytes) return 0;  // disk full: the transfer fails
      t->response->written += bytes;
    } else if (t->response->body.size() < (8 << 20)) {
      t->response->body.append(data, bytes);
    }
    return bytes;
  }

  static int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (!t->http->progress_ || total <= 0 || Clock::now() - t->shown < std::chrono::milliseconds(250)) return 0;
    t->shown = Clock::now();
    const double secs = std::max(1e-3, std::chrono::duration<double>(Clock::now() - t->started).count());
    const double rate = static_cast<double>(now) / secs;
    const double all = static_cast<double>(total + static_cast<curl_off_t>(t->offset));
    const double done = static_cast<double>(now + static_cast<curl_off_t>(t->offset));
    const double eta = rate > 0 ? (all - done) / rate : 0;
    const int width = 30;
    const int filled = static_cast<int>(width * done / all);
    fmt::print(stderr, "\r\033[K{} [{}{}] {:.1f}/{:.1f} MB, {:.1f} MB/s, ETA {:.0f} s", t->what,
               std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(width - filled), '.'), done / 1e6, all / 1e6, rate / 1e6, eta);
    return 0;
  }

  Response once(const std::string& url, const std::vector<std::string>& headers, std::FILE* file,
                const std::string& what, const Hooks& hooks) {
    pace();
    ++requests_;
    Response r;
    Transfer t{this, &r, file, what, Clock::now(), file ? static_cast<std::uint64_t>(std::ftell(file)) : 0, {}, &hooks};
    curl_slist* list = nullptr;
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, o_.user_agent.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    // gzip/deflate for the JSON documents; an archive comes as it is (ranges count its bytes).
    if (!file) curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl_, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1L);  // no byte for --timeout seconds: retry
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, o_.timeout);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error);
    r.code = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.code != CURLE_OK) r.error = error[0] ? error : curl_easy_strerror(r.code);
    curl_slist_free_all(list);
    if (file) std::fflush(file);
    if (progress_) fmt::print(stderr, "\r\033[K");
    return r;
  }

  const FetchOptions& o_;
  bool progress_;
  CURL* curl_ = nullptr;
  Clock::duration spacing_{};
  std::optional<Clock::time_point> last_start_;
  std::uint64_t requests_ = 0, retries_ = 0;
};

// ---------------------------------------------------------------------------------------------

// Why a downloaded archive cannot be used, or nullopt: the length the server declared, and a
// central directory that agrees with the members' local headers.
std::optional<std::string> check_zip(const fs::path& path, std::optional<std::uint64_t> expected) {
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  if (expected && size != *expected) return fmt::format("{} bytes where the server announced {}", size, *expected);
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!z) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string text = zip_error_strerror(&error);
    zip_error_fini(&error);
    return "not a readable zip archive: " + text;
  }
  const zip_int64_t n = zip_get_num_entries(z, 0);
  zip_discard(z);
  if (n <= 0) return std::string("a zip archive without members");
  return std::nullopt;
}

struct FileReport {
  std::string name, status;  // downloaded | unchanged
  std::uint64_t bytes = 0;
  double seconds = 0;
};

struct FetchReport {
  std::vector<FileReport> files;
  std::vector<std::string> days;  // daily indexes read
  std::uint64_t filers = 0, documents = 0, document_bytes = 0;
  std::uint64_t requests = 0, retries = 0;
  double seconds = 0;
  bool changed = false;  // anything new on disk
  json to_json() const {
    json j;
    j["files"] = json::array();
    for (const auto& f : files)
      j["files"].push_back({{"name", f.name}, {"status", f.status}, {"bytes", f.bytes}, {"seconds", f.seconds}});
    j["days"] = days;
    j["filers"] = filers;
    j["documents"] = documents;
    j["document_bytes"] = document_bytes;
    j["requests"] = requests;
    j["retries"] = retries;
    j["seconds"] = seconds;
    j["changed"] = changed;
    return j;
  }
};

class Fetcher {
 public:
  explicit Fetcher(FetchOptions o)
      : o_(std::move(o)), dir_(o_.out), state_((fs::create_directories(dir_), dir_)), http_(o_, show_progress()) {}

  FetchState& state() { return state_; }

  FetchReport run() {
    const auto started = Clock::now();
    if (o_.since.empty()) {
      for (const std::string& d : o_.datasets) archive(d);
      record_day_covered();
    } else {
      increments();
    }
    report_.requests = http_.requests();
    report_.retries = http_.retries();
    report_.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return report_;
  }

  // Where the loader takes what this fetch mode keeps.
  std::vector<std::string> load_paths() const {
    std::vector<std::string> paths;
    if (!o_.since.empty()) {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(dir_ / "daily", ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec)) {  // a folder of increments that holds none is nothing to load
          paths.push_back((dir_ / "daily").string());
          break;
        }
      return paths;
    }
    for (const std::string& d : o_.datasets)
      if (fs::exists(dir_ / (d + ".zip"))) paths.push_back((dir_ / (d + ".zip")).string());
    return paths;
  }

 private:
  bool show_progress() const {
    return o_.progress == "always" || (o_.progress == "auto" && ::isatty(STDERR_FILENO) &&
                                       log::settings().format == log::Format::kText && log::enabled(log::Level::kInfo));
  }

  // One bulk archive: conditional, resumable, verified, renamed when whole.
  void archive(const std::string& dataset) {
    const std::string name = dataset + ".zip";
    const std::string url =
        o_.base_url + (dataset == "submissions" ? "/daily-index/bulkdata/" : "/daily-index/xbrl/") + name;
    const fs::path final_path = dir_ / name, part = dir_ / (name + ".part");
    json& files = state_["files"];
    json& partial = state_["partial"];
    const auto started = Clock::now();

    std::vector<std::string> headers;
    std::uint64_t have = 0;
    std::error_code ec;
    if (fs::exists(part) && partial.contains(name) && partial[name].contains("etag")) {
      have = fs::file_size(part, ec);
      headers = {fmt::format("Range: bytes={}-", have), "If-Range: " + partial[name]["etag"].get<std::string>()};
    } else {
      fs::remove(part, ec);
      if (fs::exists(final_path) && files.contains(name)) {
        const json& f = files[name];
        if (f.contains("etag")) headers.push_back("If-None-Match: " + f["etag"].get<std::string>());
        if (f.contains("last_modified"))
          headers.push_back("If-Modified-Since: " + f["last_modified"].get<std::string>());
      }
    }
    std::FILE* out = std::fopen(part.c_str(), have > 0 ? "ab" : "wb");
    if (!out) throw Fatal(fmt::format("cannot write {}: {}", part.string(), std::strerror(errno)));
    // The validator of the bytes in NAME.part, kept in the state as soon as a response's headers
    // are in: a fetch that dies mid-file (dropped connection, kill) resumes from those bytes.
    std::string validator = have > 0 ? partial[name]["etag"].get<std::string>() : "";
    Http::Hooks hooks;
    hooks.headers_done = [&](const Response& r) {
      const auto etag = r.headers.find("etag");
      if (r.status == 200) {
        // The whole file comes (no range asked, or If-Range named an older version): it replaces
        // whatever NAME.part held.
        if (std::ftell(out) > 0 && std::freopen(part.c_str(), "wb", out) == nullptr)
          throw Fatal("cannot rewrite " + part.string());
        validator = etag != r.headers.end() ? etag->second : "";
      }
      if ((r.status == 200 || r.status == 206) && !validator.empty()) {
        partial[name] = {{"etag", validator}};
        state_.save();
      }
    };
    hooks.resume = [&](const Response&) -> std::vector<std::string> {
      std::fflush(out);
      const std::uint64_t now = fs::file_size(part, ec);
      if (now == 0 || validator.empty()) {  // nothing to resume from: start over
        if (std::freopen(part.c_str(), "wb", out) == nullptr) throw Fatal("cannot rewrite " + part.string());
        return headers;
      }
      return {fmt::format("Range: bytes={}-", now), "If-Range: " + validator};
    };
    Response r;
    try {
      r = http_.get(url, headers, out, name, hooks);
    } catch (...) {
      std::fclose(out);
      throw;
    }
    std::fclose(out);
    if (r.status == 304) {
      fs::remove(part, ec);
      log::info("{} unchanged since {} (nothing downloaded)", name,
                files[name].value("fetched_at", std::string("the last fetch")));
      report_.files.push_back({name, "unchanged", 0, seconds_since(started)});
      return;
    }
    if (r.status != 200 && r.status != 206) throw Fatal(fmt::format("{}: HTTP {} from {}", name, r.status, url));
    std::optional<std::uint64_t> total;
    if (const auto it = r.headers.find("content-range"); it != r.headers.end()) {
      const auto slash = it->second.find('/');
      if (slash != std::string::npos && it->second.substr(slash + 1) != "*")
        total = std::stoull(it->second.substr(slash + 1));
    } else if (const auto len = r.headers.find("content-length"); len != r.headers.end() && r.status == 200) {
      total = std::stoull(len->second);
    }
    if (const auto why = check_zip(part, total)) {
      fs::remove(part, ec);
      partial.erase(name);
      state_.save();
      throw Fatal(
          fmt::format("{} from {} is not complete ({}); the copy in {} is kept", name, url, *why, dir_.string()));
    }
    fs::rename(part, final_path);
    files[name] = {{"url", url}, {"bytes", fs::file_size(final_path)}, {"fetched_at", utc_now()}};
    if (!validator.empty()) files[name]["etag"] = validator;
    if (r.headers.count("last-modified")) files[name]["last_modified"] = r.headers["last-modified"];
    partial.erase(name);
    state_.save();
    report_.changed = true;
    report_.files.push_back({name, "downloaded", fs::file_size(final_path), seconds_since(started)});
    log::info("{} downloaded ({:.1f} MB in {:.1f} s)", name, static_cast<double>(fs::file_size(final_path)) / 1e6,
              seconds_since(started));
  }

  // A full snapshot holds what was filed up to the day before the SEC built it (its Last-Modified,
  // else the day it was fetched): --since last continues from the next day. Set even when an
  // earlier fetch of increments went further: the snapshot loaded over them is older than they were.
  void record_day_covered() {
    std::optional<Day> built;
    for (const std::string& d : o_.datasets) {
      const json& files = state_["files"];
      const json file = files.is_object() ? files.value(d + ".zip", json::object()) : json::object();
      std::time_t when = std::time(nullptr);
      std::tm tm{};
      const std::string modified = file.value("last_modified", std::string());
      if (!modified.empty() && strptime(modified.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) != nullptr) when = timegm(&tm);
      const Day day = Day::of(when);
      if (!built || day < *built) built = day;
    }
    if (!built) return;
    state_["daily"]["last_day"] = built->previous().iso();
    state_.save();
  }

  // The filers that filed on each business day since --since, from the daily master index; then
  // their current documents from the per-company API.
  void increments() {
    const Day until = o_.until.empty() ? Day::of(std::time(nullptr)) : *parse_day(o_.until);
    Day day;
    if (o_.since == "last") {
      const json& daily = state_["daily"];
      if (!daily.contains("last_day"))
        throw UsageError(
            fmt::format("--since last: no earlier fetch of daily increments is recorded in {} (give "
                        "--since YYYY-MM-DD, or run a --full sync first)",
                        dir_.string()));
      day = parse_day(daily["last_day"].get<std::string>())->next();
    } else {
      day = *parse_day(o_.since);
    }
    std::set<std::int64_t> ciks;
    std::optional<Day> last_found;
    for (; day <= until; day = day.next()) {
      if (day.weekend()) continue;
      const std::string url =
          fmt::format("{}/daily-index/{}/QTR{}/master.{}.idx", o_.base_url, day.y, day.quarter(), day.compact());
      const Response r = http_.get(url, {}, nullptr, "master." + day.compact() + ".idx");
      if (r.status == 404) {  // a holiday, or not published yet
        log::info("no daily index for {} (a holiday, or not published yet)", day.iso());
        continue;
      }
      if (r.status != 200) throw Fatal(fmt::format("master.{}.idx: HTTP {} from {}", day.compact(), r.status, url));
      const std::size_t before = ciks.size();
      read_master_index(r.body, ciks);
      report_.days.push_back(day.iso());
      last_found = day;
      log::info("{}: {} filers filed ({} new to this fetch)", day.iso(), count_filers(r.body), ciks.size() - before);
    }
    report_.filers = ciks.size();
    const fs::path daily = dir_ / "daily";
    fs::create_directories(daily / "submissions");
    fs::create_directories(daily / "companyfacts");
    std::uint64_t n = 0;
    for (const std::int64_t cik : ciks) {
      ++n;
      if (show_progress())
        fmt::print(stderr, "\r\033[Kfiler {} of {} (CIK {}), {} documents", n, ciks.size(), cik, report_.documents);
      const std::string main_name = sec_file_name(cik, 0);
      const std::optional<std::string> main = document(o_.api_url + "/submissions/" + main_name, main_name);
      if (main) {
        save(daily / "submissions" / main_name, *main);
        for (const std::string& page : overflow_pages(*main, main_name))
          if (const auto body = document(o_.api_url + "/submissions/" + page, page))
            save(daily / "submissions" / page, *body);
      }
      if (const auto facts = document(o_.api_url + "/api/xbrl/companyfacts/" + main_name, "companyfacts " + main_name))
        save(daily / "companyfacts" / main_name, *facts);
    }
    if (show_progress()) fmt::print(stderr, "\r\033[K");
    if (last_found) {
      state_["daily"]["last_day"] = last_found->iso();
      state_.save();
    }
    report_.changed = report_.documents > 0;
    log::info("{} days, {} filers, {} documents ({:.1f} MB) into {}", report_.days.size(), ciks.size(),
              report_.documents, static_cast<double>(report_.document_bytes) / 1e6, daily.string());
  }

  // A document of the per-company API, or nullopt if the API has none (404: a filer without
  // XBRL facts, or a page the SEC no longer serves).
  std::optional<std::string> document(const std::string& url, const std::string& what) {
    const Response r = http_.get(url, {}, nullptr, what);
    if (r.status == 404) return std::nullopt;
    if (r.status != 200) throw Fatal(fmt::format("{}: HTTP {} from {}", what, r.status, url));
    ++report_.documents;
    report_.document_bytes += r.body.size();
    return r.body;
  }

  void save(const fs::path& path, const std::string& body) {
    const fs::path tmp = path.string() + ".part";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << body;
      if (!out) throw Fatal("cannot write " + tmp.string());
    }
    fs::rename(tmp, path);
  }

  // filings.files[].name of a main file: its overflow pages.
  static std::vector<std::string> overflow_pages(const std::string& body, const std::string& what) {
    std::vector<std::string> pages;
    try {
      const json doc = json::parse(body);
      if (doc.contains("filings") && doc["filings"].contains("files"))
        for (const json& f : doc["filings"]["files"])
          if (f.contains("name") && f["name"].is_string()) {
            const std::string name = f["name"];
            if (parse_file_name(name).overflow_page) pages.push_back(name);
          }
    } catch (const json::exception&) {
      // Not JSON: saved as it is, and the loader rejects it with its reason and offset.
      log::warning("{} is not valid JSON; its pages are not fetched", what);
    }
    return pages;
  }

  // master.YYYYMMDD.idx: a header, a line of dashes, then CIK|Company Name|Form Type|Date Filed|Filename.
  static void read_master_index(const std::string& body, std::set<std::int64_t>& ciks) {
    std::istringstream lines(body);
    std::string line;
    bool rows = false;
    while (std::getline(lines, line)) {
      if (!rows) {
        rows = line.rfind("---", 0) == 0;
        continue;
      }
      const auto bar = line.find('|');
      if (bar == std::string::npos || bar == 0) continue;
      std::int64_t cik = 0;
      bool digits = true;
      for (char c : line.substr(0, bar)) {
        if (c < '0' || c > '9') digits = false;
        cik = cik * 10 + (c - '0');
      }
      if (digits && bar <= 10) ciks.insert(cik);
    }
  }
  static std::size_t count_filers(const std::string& body) {
    std::set<std::int64_t> ciks;
    read_master_index(body, ciks);
    return ciks.size();
  }

  static double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

  FetchOptions o_;
  fs::path dir_;
  FetchState state_;
  Http http_;
  FetchReport report_;
};

// Options shared by fetch and sync; returns false for an argument it does not take.
bool fetch_option(FetchOptions& o, const std::vector<std::string>& args, std::size_t& i) {
  const std::string& arg = args[i];
  std::string value;
  const auto eq = arg.find('=');
  const std::string name = arg.rfind("--", 0) == 0 && eq != std::string::npos ? arg.substr(0, eq) : arg;
  const auto take = [&]() -> std::string {
    if (eq != std::string::npos && name != arg) return arg.substr(eq + 1);
    if (i + 1 >= args.size()) throw UsageError(name + " needs a value");
    return args[++i];
  };
  const auto number = [&](double lo, double hi) {
    const std::string v = take();
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || x < lo || x > hi)
      throw UsageError(fmt::format("{} takes a number from {} to {}, not '{}'", name, lo, hi, v));
    return x;
  };
  if (name == "--user-agent")
    o.user_agent = take();
  else if (name == "--out")
    o.out = take();
  else if (name == "--since") {
    o.since = take();
    if (o.since != "last" && !parse_day(o.since))
      throw UsageError(fmt::format("--since takes a day (YYYY-MM-DD) or last, not '{}'", o.since));
  } else if (name == "--until") {
    o.until = take();
    if (!parse_day(o.until)) throw UsageError(fmt::format("--until takes a day (YYYY-MM-DD), not '{}'", o.until));
  } else if (name == "--max-rate") {
    o.max_rate = number(0.01, 1e9);
    if (o.max_rate > kSecMaxRate)
      throw UsageError(
          fmt::format("--max-rate {} is over the SEC's limit of {} requests per second", o.max_rate, kSecMaxRate));
  } else if (name == "--retries")
    o.retries = static_cast<int>(number(1, 100));
  else if (name == "--retry-wait")
    o.retry_wait = number(0, 600);
  else if (name == "--timeout")
    o.timeout = static_cast<long>(number(1, 3600));
  else if (name == "--base-url")
    o.base_url = take();
  else if (name == "--api-url")
    o.api_url = take();
  else if (name == "--summary-json")
    o.summary_json = take();
  else if (name == "--progress") {
    o.progress = take();
    if (o.progress != "auto" && o.progress != "always" && o.progress != "never")
      throw UsageError("--progress takes auto, always or never");
  } else if (arg == "submissions" || arg == "companyfacts")
    o.datasets.push_back(arg);
  else
    return false;
  while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  while (!o.api_url.empty() && o.api_url.back() == '/') o.api_url.pop_back();
  return true;
}

void check_fetch_options(FetchOptions& o) {
  if (o.user_agent.empty())
    if (const char* env = std::getenv("EDGARPIPE_USER_AGENT")) o.user_agent = env;
  if (o.user_agent.empty())
    throw UsageError(
        "the SEC refuses clients that do not say who they are: give --user-agent \"Org Name "
        "admin@example.com\" (or set EDGARPIPE_USER_AGENT)");
  if (!std::regex_search(o.user_agent, std::regex(R"([^\s@<>]+@[^\s@<>]+\.[A-Za-z]{2,})")))
    throw UsageError(
        fmt::format("--user-agent '{}' holds no contact e-mail; the SEC asks for one, e.g. \"Acme "
                    "Research data@acme.example\"",
                    o.user_agent));
  if (o.out.empty()) throw UsageError("--out DIR: where the downloads go");
  if (o.datasets.empty()) o.datasets = {"submissions", "companyfacts"};
  std::sort(o.datasets.begin(), o.datasets.end());
  o.datasets.erase(std::unique(o.datasets.begin(), o.datasets.end()), o.datasets.end());
}

void write_json(const std::string& path, const json& j) {
  if (path.empty()) return;
  if (path == "-") {
    fmt::print("{}\n", j.dump(2));
    return;
  }
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

bool has_help(int argc, char** argv) {
  for (int i = 2; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") return true;
  return false;
}

// Runs `edgarpipe run ARGS` (this executable) and returns its exit status. The run gets SIGTERM
// when sync dies (kill -9 included): it stops as on Ctrl-C, committing the files in flight, and
// the next sync loads the rest; never a run left loading with no sync to answer for it.
int run_loader(const std::vector<std::string>& args) {
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  std::vector<std::string> run_args = {"run"};
  run_args.insert(run_args.end(), args.begin(), args.end());
  const pid_t pid = spawn_tied_to_parent(self, run_args, SIGTERM);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int fetch_main(int argc, char** argv) {
  log::set_program("edgarpipe fetch");
  if (has_help(argc, argv)) {
    fmt::print("{}", kFetchUsage);
    return 0;
  }
  try {
    FetchOptions o;
    const std::vector<std::string> args(argv + 2, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i)
      if (!fetch_option(o, args, i)) throw UsageError(fmt::format("unknown argument {}", args[i]));
    check_fetch_options(o);
    Fetcher fetcher(o);
    const FetchReport report = fetcher.run();
    write_json(o.summary_json, report.to_json());
    return 0;
  } catch (const UsageError& e) {
    log::error("{} (edgarpipe fetch --help for the options)", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
}

int sync_main(int argc, char** argv) {
  log::set_program("edgarpipe sync");
  if (has_help(argc, argv)) {
    fmt::print("{}", kSyncUsage);
    return 0;
  }
  try {
    FetchOptions o;
    std::string sink;
    bool full = false, wait = false;
    std::vector<std::string> run_args;
    const std::vector<std::string> args(argv + 2, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--") {
        run_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      if (args[i] == "--sink" && i + 1 < args.size())
        sink = args[++i];
      else if (args[i].rfind("--sink=", 0) == 0)
        sink = args[i].substr(7);
      else if (args[i] == "--full")
        full = true;
      else if (args[i] == "--wait")
        wait = true;
      else if (!fetch_option(o, args, i))
        throw UsageError(fmt::format("unknown argument {}", args[i]));
    }
    if (sink.empty()) throw UsageError("--sink URL: the database to load");
    if (full && !o.since.empty()) throw UsageError("--full and --since exclude each other");
    check_fetch_options(o);
    const SinkUrl sink_url = parse_sink_url(sink);
    for (const std::string& a : run_args)
      if (a == "--sink" || a == "--prune" || a == "--shard")
        throw UsageError(fmt::format("{} after -- is sync's to set", a));

    // One sync per folder at a time: two would download into the same files.
    fs::create_directories(o.out);
    const std::string lock_path = (fs::path(o.out) / ".edgarpipe-sync.lock").string();
    const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", lock_path, std::strerror(errno)));
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
      if (!wait) {
        log::error(
            "another sync is running on {} (lock {}); not starting a second one "
            "(--wait to wait for it)",
            o.out, lock_path);
        return 1;
      }
      log::info("another sync is running on {}; waiting for it", o.out);
      while (::flock(lock, LOCK_EX) != 0 && errno == EINTR) {
      }
    }

    Fetcher fetcher(o);
    FetchReport report;
    json summary;
    try {
      report = fetcher.run();
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      log::error("fetch failed: {}", e.what());
      summary["fetch"] = {{"error", e.what()}};
      summary["status"] = "failed";
      write_json(o.summary_json, summary);
      return 1;
    }
    summary["fetch"] = report.to_json();

    // What this sink last loaded from DIR: the archives' validators, or the increments' last day.
    FetchState& state = fetcher.state();
    json current;
    if (o.since.empty()) {
      for (const std::string& d : o.datasets)
        if (state["files"].contains(d + ".zip")) current[d + ".zip"] = state["files"][d + ".zip"];
    } else {
      const json& daily = state["daily"];  // null before any day was recorded
      current["daily"] = daily.is_object() ? daily.value("last_day", std::string()) : std::string();
    }
    const json& loaded = state["loaded"][sink_url.text];
    const std::vector<std::string> paths = fetcher.load_paths();
    int code = 0;
    if (paths.empty() || (!report.changed && loaded == current)) {
      log::info("nothing new since the last load into {}; nothing to load", sink_url.text);
      summary["load"] = {{"status", "skipped"}};
    } else {
      const std::string run_summary = (fs::path(o.out) / ".edgarpipe-sync-run.json").string();
      std::vector<std::string> load = paths;
      load.insert(load.end(), {"--sink", sink, "--summary-json", run_summary, "--progress", o.progress});
      if (o.since.empty()) load.push_back("--prune");  // the archives are the whole snapshot
      load.insert(load.end(), run_args.begin(), run_args.end());
      code = run_loader(load);
      std::ifstream in(run_summary);
      try {
        summary["load"] = json::parse(in);
      } catch (const json::exception&) {
        summary["load"] = {{"status", "failed"}, {"exit_code", code}};
      }
      if (code == 0 || code == 3) {  // the load completed: a rerun with nothing new loads nothing
        state["loaded"][sink_url.text] = current;
        state.save();
        // The increments fetched before this snapshot are older than it: loading them again
        // after it would bring back replaced documents.
        if (o.since.empty()) fs::remove_all(fs::path(o.out) / "daily");
      }
    }
    summary["status"] = code == 0 || code == 3 ? "completed" : "failed";
    summary["exit_code"] = code;
    write_json(o.summary_json, summary);
    return code;
  } catch (const UsageError& e) {
    log::error("{} (edgarpipe sync --help for the options)", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
}

}  // namespace edgarpipe
