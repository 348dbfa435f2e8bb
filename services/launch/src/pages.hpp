// The pages a clinician sees during a launch: the hand-off (iframe mode), the outcome after the hub
// system, and the error pages in plain language — all framed by the integration's branding (logo,
// company name, application name, category) in a header and footer. Self-contained: one inline style
// allowed by its hash, no script, the logo served by the relay; the Content-Security-Policy says so.
// Pure: no I/O. Every configured or computed text is HTML-escaped; nothing a caller sent is shown.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"

namespace relay::launch {

struct PageContent {
    std::string title;    ///< the heading, plain text
    std::string message;  ///< one paragraph, plain text
    /// A link styled as a button: label and href (already a URL the relay built).
    std::optional<std::pair<std::string, std::string>> action;
    /// Follow `action` by itself after this long (the hand-off page).
    std::optional<std::chrono::seconds> continue_after;
};

/// A whole page for `integration` (null: a page without branding, for a path that names no integration).
std::string render_page(const Integration* integration, const PageContent& content);

/// The Content-Security-Policy of the pages: nothing but the relay's own images and the page's one
/// style; framed by the integration's origins in iframe mode, by nobody in redirect mode.
std::string page_security_policy(const Integration* integration);

/// What a refusal tells the clinician, by reason code (the codes of the launch's metrics).
PageContent refusal_page(const Integration* integration, std::string_view reason);

/// The page after the hub system: `outcome` is accepted, declined or cancelled.
PageContent outcome_page(const Integration& integration, std::string_view outcome);

/// The hand-off page of iframe mode: continues to `hub_url` by itself after the integration's delay.
PageContent handoff_page(const Integration& integration, const std::string& hub_url);

}  // namespace relay::launch
