// Our parser (simdjson's first stage, a walk over its structural index, and row-batch encoding)
// against simdjson's own parse of the same file in the same run: a bare On-Demand walk that
// touches every value, the parse the pipeline's end-to-end reference (parse_limit.cpp) runs.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "edgarpipe/batch/row_batch.hpp"
#include "edgarpipe/parse/edgar_parser.hpp"

namespace {

std::string load(const char* relative) {
  std::ifstream in(std::string(EDGARPIPE_TEST_DATA_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  return bytes;
}

const char* kFiles[] = {"companyfacts/CIK0000320193.json", "submissions/CIK0000320193.json"};

void BM_SimdjsonWalk(benchmark::State& state) {
  const std::string json = load(kFiles[state.range(0)]);
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  for (auto _ : state) {
    auto doc = parser.iterate(padded);
    std::uint64_t values = 0;
    // Walk every value of the document (recursively), the lower bound for extracting them.
    std::vector<simdjson::ondemand::value> stack;
    auto walk = [&](auto&& self, simdjson::ondemand::value v) -> void {
      switch (v.type()) {
        case simdjson::ondemand::json_type::object:
          for (auto field : v.get_object()) self(self, field.value());
          break;
        case simdjson::ondemand::json_type::array:
          for (auto element : v.get_array()) self(self, element.value());
          break;
        case simdjson::ondemand::json_type::string:
          values += v.get_string().value().size();
          break;
        case simdjson::ondemand::json_type::number:
          values += static_cast<std::uint64_t>(v.get_double().value());
          break;
        default:
          v.is_null();
          ++values;
      }
    };
    walk(walk, doc.get_value().value());
    benchmark::DoNotOptimize(values);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
  state.SetLabel(kFiles[state.range(0)]);
}

class DiscardOutput final : public edgarpipe::RowBatchWriter::Output {
 public:
  explicit DiscardOutput(std::size_t size) : buffer_(size) {}
  std::span<std::byte> flush(std::size_t, std::size_t) override { return {buffer_.data(), buffer_.size()}; }
  std::span<std::byte> buffer() { return {buffer_.data(), buffer_.size()}; }

 private:
  std::vector<std::byte> buffer_;
};

void BM_EdgarParse(benchmark::State& state) {
  const std::string json = load(kFiles[state.range(0)]);
  std::string padded = json;
  padded.append(64, '\0');
  edgarpipe::EdgarParser parser;
  DiscardOutput out(1 << 20);
  // range(1): the batch encoding (0 tagged values, 1 PostgreSQL COPY tuples, 2 SQL Server cells).
  const auto encoding = static_cast<edgarpipe::BatchEncoding>(state.range(1));
  edgarpipe::RowBatchWriter writer(out, encoding);
  std::uint64_t rows = 0;
  for (auto _ : state) {
    writer.reset(out.buffer());
    writer.begin_file(0);
    const auto outcome = parser.parse(padded.data(), json.size(), padded.size(), kFiles[state.range(0)],
                                      edgarpipe::Dataset::kUnknown, false, writer);
    if (!outcome.ok) state.SkipWithError(outcome.error.c_str());
    rows += outcome.rows;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  static constexpr const char* kEncodings[] = {"values", "pg-copy", "tds-cells"};
  state.SetLabel(std::string(kFiles[state.range(0)]) + " " + kEncodings[state.range(1)]);
}

}  // namespace

BENCHMARK(BM_SimdjsonWalk)->Arg(0)->Arg(1);
BENCHMARK(BM_EdgarParse)->ArgsProduct({{0, 1}, {0, 1, 2}});
