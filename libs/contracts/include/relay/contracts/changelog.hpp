// The router's changelog (relay.referrals.state.v1) keys: `<ref>` is a referral's dedup state (the
// router's alone), `<ref>#bundle` its latest inbound bundle, which the router writes and the updater
// reads (and follows) to answer Ocean about the referral.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::contracts::changelog {

/// The suffix of a referral's latest-bundle key; router writes `<ref>#bundle`, updater reads it.
inline constexpr std::string_view kBundleKeySuffix = "#bundle";

/// The latest-bundle key of `ref`.
inline std::string bundle_key(std::string_view ref) {
    std::string key(ref);
    key += kBundleKeySuffix;
    return key;
}

/// The referral ref of a `<ref>#bundle` key, or nullopt for any other key (the dedup state, or the bare
/// suffix).
inline std::optional<std::string> bundle_key_ref(std::string_view key) {
    if (!key.ends_with(kBundleKeySuffix) || key.size() == kBundleKeySuffix.size()) return std::nullopt;
    return std::string(key.substr(0, key.size() - kBundleKeySuffix.size()));
}

}  // namespace relay::contracts::changelog
