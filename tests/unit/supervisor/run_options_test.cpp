// parse_run_options: `edgarpipe run`'s arguments, from the command line and --options files, and
// the one-line usage errors that name the argument and where it came from.
#include "run_options.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "edgarpipe/core/errors.hpp"

using Catch::Matchers::Contains;
using edgarpipe::parse_run_options;
using edgarpipe::RunOptions;

namespace {

RunOptions parse(std::initializer_list<std::string> words) {
  std::vector<std::string> args = {"edgarpipe", "run"};
  args.insert(args.end(), words);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_run_options(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("run options: defaults, both spellings of a value, paths in order", "[cli]") {
  const RunOptions d = parse({"a.zip"});
  CHECK(d.sink == "sqlite:edgar.db");
  CHECK((d.readers == 1 && d.parsers == 2 && d.writers == 1));
  CHECK(d.max_restarts == 3);
  CHECK(d.index_memory_mib == 64);
  CHECK(d.dataset == edgarpipe::Dataset::kUnknown);

  const RunOptions o = parse({"--sink=postgresql://db/e", "x", "--writers", "2", "--dataset", "companyfacts", "y",
                              "--shard", "3/8", "--max-restarts=0", "--no-indexes"});
  CHECK(o.sink == "postgresql://db/e");
  CHECK(o.paths == std::vector<std::string>{"x", "y"});
  CHECK(o.writers == 2);
  CHECK(o.dataset == edgarpipe::Dataset::kCompanyfacts);
  CHECK((o.inputs.shard_index == 3 && o.inputs.shard_count == 8));
  CHECK(o.max_restarts == 0);
  CHECK(o.no_indexes);
}

TEST_CASE("run options: each bad value is refused with the argument named", "[cli]") {
  CHECK_THROWS_WITH(parse({}), Contains("run needs at least one PATH"));
  CHECK_THROWS_WITH(parse({"p", "--readers", "0"}), Contains("--readers needs a number from 1 to 64, not '0'"));
  CHECK_THROWS_WITH(parse({"p", "--parsers", "65"}), Contains("--parsers needs a number from 1 to 64"));
  CHECK_THROWS_WITH(parse({"p", "--writers", "two"}), Contains("not 'two'"));
  CHECK_THROWS_WITH(parse({"p", "--max-restarts", "101"}), Contains("--max-restarts takes a number from 0 to 100"));
  CHECK_THROWS_WITH(parse({"p", "--shard", "4/4"}), Contains("--shard takes I/N with 0 <= I < N"));
  CHECK_THROWS_WITH(parse({"p", "--shard", "$(JOB_COMPLETION_INDEX)/4"}), Contains("a variable left unexpanded"));
  CHECK_THROWS_WITH(parse({"p", "--dataset", "filings"}), Contains("--dataset takes submissions or companyfacts"));
  CHECK_THROWS_WITH(parse({"p", "--storage", "columnar"}), Contains("--storage takes row or analytic"));
  CHECK_THROWS_WITH(parse({"p", "--bogus"}), Contains("unknown option --bogus"));
  CHECK_THROWS_WITH(parse({"p", "--sink"}), Contains("--sink needs a value"));
  CHECK_THROWS_WITH(parse({"p", "--summary-json", "/no/such/folder/s.json"}), Contains("cannot write there"));
  CHECK_THROWS_AS(parse({"p", "--readers", "0"}), edgarpipe::UsageError);
}

TEST_CASE("run options: an --options file (as tune --write makes it), its errors by file and line", "[cli]") {
  char name[] = "/tmp/edgarpipe-options-XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream f(name);
    f << "# written by edgarpipe tune\n--readers 2 --parsers 3\n\n--writers=2\n";
  }
  const RunOptions o = parse({"p", "--options", name, "--writers", "1"});
  CHECK((o.readers == 2 && o.parsers == 3 && o.writers == 1));  // later arguments win
  {
    std::ofstream f(name);
    f << "--readers 2\n--parsers 99\n";
  }
  CHECK_THROWS_WITH(
      parse({"p", std::string("--options=") + name}),
      Contains("--parsers needs a number from 1 to 64, not '99'") && Contains(std::string("(in ") + name + " line 2)"));
  std::remove(name);
  CHECK_THROWS_WITH(parse({"p", "--options", name}), Contains("--options: cannot read"));
}
