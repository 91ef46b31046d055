#include "edgarpipe/gen/corpus_generator.hpp"

int main(int argc, char** argv) { return edgarpipe::gen_main(argc, argv); }
