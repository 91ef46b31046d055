// Entry points of the four executables. Each apps/*.cpp main only calls one of these.
//
//   edgarpipe          the supervisor and CLI (run, fetch, sync, tune, status, rejects, schema, cleanup)
//   edgarpipe-reader   claims files, reads them into its raw chunk pool, hands them to parsers
//   edgarpipe-parser   parses raw chunks in place into row batches in its batch chunk pool
//   edgarpipe-writer   applies row batches to the sink, file by file
//
// Stage processes are started by the supervisor only, as `edgarpipe-<stage> --control NAME
// --slot N`; they exit 0 when their input is exhausted, 1 on a fatal error.
#pragma once

#include <cstdint>
#include <string_view>

namespace edgarpipe {

int cli_main(int argc, char** argv);    // cli.cpp
int run_main(int argc, char** argv);    // `edgarpipe run` (supervisor.cpp); throws UsageError
int tune_main(int argc, char** argv);   // `edgarpipe tune` (tune.cpp)
int fetch_main(int argc, char** argv);  // `edgarpipe fetch` (fetch.cpp)
int sync_main(int argc, char** argv);   // `edgarpipe sync` (fetch.cpp)
// A command-line count from 1 to max; throws UsageError naming `flag` otherwise.
std::uint32_t parse_count(std::string_view flag, std::string_view value, std::uint32_t max);
int reader_main(int argc, char** argv);
int parser_main(int argc, char** argv);
int writer_main(int argc, char** argv);
int gen_main(int argc, char** argv);  // edgarpipe-gen, the corpus generator

}  // namespace edgarpipe
