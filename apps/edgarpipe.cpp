#include "edgarpipe/cli/commands.hpp"

int main(int argc, char** argv) { return edgarpipe::cli_main(argc, argv); }
