// relayctl's command line: parses argv into the commands' options and runs one. Exit codes: 0 ok,
// 1 a command failed, 2 a usage or configuration mistake (the message names the option).
#pragma once

#include <istream>
#include <ostream>

namespace relay::relayctl {

/// What relayctl knows about where it runs: it prompts only when someone can answer, and redraws the
/// progress bar only on a terminal.
struct Terminal {
    std::istream* in = nullptr;
    bool in_is_tty = false;
    bool err_is_tty = false;
};

int run_cli(
    int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Terminal& terminal);

}  // namespace relay::relayctl
