// The parse limit: simdjson On-Demand visiting every value of every file, with the files already
// in memory, on N threads. This is the reference the end-to-end harness (pipeline_bench.py)
// holds the pipeline against: simdjson parsing the same files, value by value.
//
//   edgarpipe_parse_limit --threads N PATH...    prints one JSON line: files, bytes, seconds
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace od = simdjson::ondemand;

namespace {

std::uint64_t walk(od::value v) {
  switch (v.type()) {
    case od::json_type::object: {
      std::uint64_t n = 0;
      for (auto field : v.get_object()) n += walk(field.value());
      return n;
    }
    case od::json_type::array: {
      std::uint64_t n = 0;
      for (auto element : v.get_array()) n += walk(element.value());
      return n;
    }
    case od::json_type::string:
      return v.get_string().value().size();
    case od::json_type::number:
      return static_cast<std::uint64_t>(v.get_double().value() != 0);
    default:
      return v.is_null().value() ? 1 : 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 1;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::stoul(argv[++i]));
    } else if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::recursive_directory_iterator(argv[i]))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    } else {
      files.emplace_back(argv[i]);
    }
  }
  std::vector<simdjson::padded_string> docs;
  std::uint64_t bytes = 0;
  for (const auto& f : files) {
    auto loaded = simdjson::padded_string::load(f.string());
    if (loaded.error()) continue;
    bytes += loaded.value().size();
    docs.push_back(std::move(loaded.value()));
  }
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> sink{0}, errors{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      od::parser parser;
      std::uint64_t local = 0;
      for (std::size_t i; (i = next.fetch_add(1)) < docs.size();) {
        try {
          auto doc = parser.iterate(docs[i]);
          local += walk(doc.get_value().value());
        } catch (const simdjson::simdjson_error&) {
          errors.fetch_add(1);
        }
      }
      sink += local;
    });
  for (auto& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"files\": %zu, \"bytes\": %llu, \"seconds\": %.6f, \"threads\": %u, \"errors\": %llu, \"checksum\": %llu}\n",
      docs.size(), static_cast<unsigned long long>(bytes), seconds, threads,
      static_cast<unsigned long long>(errors.load()), static_cast<unsigned long long>(sink.load()));
  return 0;
}
