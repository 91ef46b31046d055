// The `edgarpipe` command line: the entry point and the commands besides `run` (supervisor.hpp).
#pragma once

namespace edgarpipe {

int cli_main(int argc, char** argv);    // cli.cpp: dispatches run, fetch, sync, tune, status, rejects, schema, cleanup
int tune_main(int argc, char** argv);   // tune.cpp
int fetch_main(int argc, char** argv);  // fetch.cpp
int sync_main(int argc, char** argv);   // fetch.cpp

}  // namespace edgarpipe
