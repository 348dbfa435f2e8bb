// relayctl: the operator's CLI for ocean-relay's delivery dead-letter topic (list, inspect, replay).
#include <unistd.h>

#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) {
    const relay::relayctl::Terminal terminal{
        &std::cin, ::isatty(STDIN_FILENO) == 1, ::isatty(STDERR_FILENO) == 1};
    return relay::relayctl::run_cli(argc, argv, std::cout, std::cerr, terminal);
}
