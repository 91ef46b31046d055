// Entry points of the four executables. Each apps/*.cpp main only calls one of these.
//
//   edgarpipe          the supervisor and CLI (run, schema, cleanup)
//   edgarpipe-reader   claims files, reads them into its raw chunk pool, hands them to parsers
//   edgarpipe-parser   parses raw chunks in place into row batches in its batch chunk pool
//   edgarpipe-writer   applies row batches to the sink, file by file
//
// Stage processes are started by the supervisor only, as `edgarpipe-<stage> --control NAME
// --slot N`; they exit 0 when their input is exhausted, 1 on a fatal error.
#pragma once

namespace edgarpipe {

int cli_main(int argc, char** argv);
int reader_main(int argc, char** argv);
int parser_main(int argc, char** argv);
int writer_main(int argc, char** argv);
int gen_main(int argc, char** argv);  // edgarpipe-gen, the corpus generator

}  // namespace edgarpipe
