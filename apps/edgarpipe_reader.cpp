#include "edgarpipe/stages/entry_points.hpp"

int main(int argc, char** argv) { return edgarpipe::reader_main(argc, argv); }
