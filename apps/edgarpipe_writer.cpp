#include "edgarpipe/stages.hpp"

int main(int argc, char** argv) { return edgarpipe::writer_main(argc, argv); }
