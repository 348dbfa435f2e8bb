#pragma once

#include <string>

namespace relay::auth::detail {

/// 32 random bytes, for keying the hashes that stand in for callers' text in memory. Throws
/// std::runtime_error if the system's random source fails.
std::string random_key();

}  // namespace relay::auth::detail
