#include "edgarpipe/stages.hpp"

int main(int argc, char** argv) { return edgarpipe::parser_main(argc, argv); }
