// Entry points of the three stage executables; each apps/edgarpipe_<stage>.cpp main only calls one.
//
//   edgarpipe-reader   claims files, reads them into its raw chunk pool, hands them to parsers
//   edgarpipe-parser   parses raw chunks in place into row batches in its batch chunk pool
//   edgarpipe-writer   applies row batches to the sink, file by file
//
// Stage processes are started by the supervisor only, as `edgarpipe-<stage> --control NAME
// --slot N`; they exit 0 when their input is exhausted, 1 on a fatal error. Each is its own CMake
// target so that a reader or parser executable links no database client (docs/architecture.md).
#pragma once

namespace edgarpipe {

int reader_main(int argc, char** argv);  // reader_stage.cpp
int parser_main(int argc, char** argv);  // parser_stage.cpp
int writer_main(int argc, char** argv);  // writer_stage.cpp

}  // namespace edgarpipe
