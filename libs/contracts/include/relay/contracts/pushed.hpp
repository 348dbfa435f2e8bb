// The pushed record: what the updater pushed to Ocean for a referral, on the inbound topic ahead of
// Ocean's echo (its JSON is relay/transform/pushed.hpp's). The `kind` header (headers.hpp) marks it.
#pragma once

#include <string_view>

namespace relay::contracts {

/// The `kind` header's value on a pushed record; updater writes it, router reads it (and counts it as its
/// event label).
inline constexpr std::string_view kPushedKind = "relay-pushed";

}  // namespace relay::contracts
