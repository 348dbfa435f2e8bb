#include "pages.hpp"

#include <fmt/format.h>

#include "relay/core/encoding.hpp"

namespace relay::launch {

namespace {

// Dark text on white (contrast above 12:1), links and buttons at 7:1, a visible focus ring for keyboard
// users, and a layout that reflows down to 320 px (an iframe in Ocean can be narrow).
constexpr std::string_view kStyle =
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;"
    "background:#fff;line-height:1.5;display:flex;flex-direction:column;min-height:100vh}"
    "header,footer{background:#f3f5f7;padding:.75rem 1rem;display:flex;gap:1rem;align-items:center;"
    "flex-wrap:wrap}header{border-bottom:1px solid #c9d1d9}footer{border-top:1px solid #c9d1d9;"
    "margin-top:auto;font-size:.9rem}header img{max-height:48px;max-width:160px}"
    ".app{font-size:1.25rem;font-weight:600;margin:0}.company,.category{color:#3d4751;margin:0}"
    "main{padding:1.5rem 1rem;max-width:40rem}h1{font-size:1.4rem;margin:0 0 .75rem}"
    "a.button{display:inline-block;background:#0b5394;color:#fff;padding:.6rem 1.1rem;border-radius:4px;"
    "text-decoration:none;font-weight:600}a.button:focus,a.button:hover{outline:3px solid #f2b01e;"
    "outline-offset:2px;background:#083f70}";

std::string style_hash() { return "'sha256-" + base64_encode(sha256(kStyle)) + "'"; }

std::string logo_url(const Integration& integration) { return "/ocean/" + integration.id + "/launch/logo"; }

std::string header_html(const Integration* integration) {
    if (integration == nullptr) return "<header><p class=\"app\">Referral launch</p></header>";
    const Branding& b = integration->branding;
    std::string html = "<header>";
    if (!b.logo.empty())
        html += fmt::format("<img src=\"{}\" alt=\"{} logo\">", html_escape(logo_url(*integration)),
                            html_escape(b.company_name));
    html += fmt::format("<div><p class=\"company\" id=\"company-header\">{}</p>", html_escape(b.company_name));
    html += fmt::format("<p class=\"app\" id=\"application-name\">{}</p>", html_escape(b.application_name));
    if (!b.category.empty())
        html += fmt::format("<p class=\"category\" id=\"category\">{}</p>", html_escape(b.category));
    html += "</div></header>";
    return html;
}

std::string footer_html(const Integration* integration) {
    if (integration == nullptr) return "<footer><p>ocean-relay</p></footer>";
    const Branding& b = integration->branding;
    std::string html = fmt::format("<footer><p id=\"company-name\">{}</p><p>{}", html_escape(b.company_name),
                                   html_escape(b.application_name));
    if (!b.category.empty()) html += " · " + html_escape(b.category);
    html += "</p></footer>";
    return html;
}

}  // namespace

std::string render_page(const Integration* integration, const PageContent& content) {
    std::string html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                       "<meta name=\"referrer\" content=\"no-referrer\">";
    if (content.action && content.continue_after)
        html += fmt::format("<meta http-equiv=\"refresh\" content=\"{};url={}\">", content.continue_after->count(),
                            html_escape(content.action->second));
    const std::string title = integration == nullptr
                                  ? content.title
                                  : content.title + " — " + integration->branding.application_name;
    html += fmt::format("<title>{}</title><style>{}</style></head><body>", html_escape(title), kStyle);
    html += header_html(integration);
    html += fmt::format("<main id=\"message\"><h1>{}</h1><p role=\"status\">{}</p>", html_escape(content.title),
                        html_escape(content.message));
    if (content.action)
        html += fmt::format("<p><a class=\"button\" id=\"continue\" href=\"{}\">{}</a></p>",
                            html_escape(content.action->second), html_escape(content.action->first));
    html += "</main>";
    html += footer_html(integration);
    html += "</body></html>";
    return html;
}

std::string page_security_policy(const Integration* integration) {
    std::string policy = "default-src 'none'; img-src 'self'; style-src " + style_hash() +
                         "; base-uri 'none'; form-action 'none'; frame-ancestors ";
    if (integration != nullptr && integration->mode == Integration::Mode::kIframe) {
        for (std::size_t i = 0; i < integration->frame_ancestors.size(); ++i) {
            if (i > 0) policy += ' ';
            policy += integration->frame_ancestors[i];
        }
    } else {
        policy += "'none'";
    }
    return policy;
}

PageContent refusal_page(const Integration* integration, std::string_view reason) {
    const std::string app = integration == nullptr ? std::string("the referral system")
                                                   : integration->branding.application_name;
    const std::string back = "Go back to Ocean and open the referral again.";
    if (reason == "malformed-parameters" || reason == "missing-parameters")
        return {"This launch link is incomplete", "The link from Ocean is missing information or is damaged. " + back, {}, {}};
    if (reason == "site-mismatch")
        return {"This launch link is for another site", "The link names an Ocean site this service does not serve. " + back, {}, {}};
    if (reason == "referral-not-found")
        return {"The referral was not found", "Ocean did not find this referral for this site. It may have been "
                                              "withdrawn. " + back, {}, {}};
    if (reason == "referral-mismatch")
        return {"The referral does not match", "The referral does not belong to the listing or service named in the link. " + back, {}, {}};
    if (reason == "no-target")
        return {"Not set up for this listing", app + " is not set up to receive referrals for this listing. Please "
                                               "contact the referral hub.", {}, {}};
    if (reason == "ocean-unavailable" || reason == "ocean-timeout")
        return {"Ocean could not be reached", "The referral could not be confirmed with Ocean just now. Your referral "
                                              "is safe in Ocean; please try again in a minute.", {}, {}};
    if (reason == "hub-unreachable")
        return {app + " is not reachable", app + " is not answering right now. Your referral was sent in Ocean and "
                                                 "nothing is lost; please try again in a few minutes.", {}, {}};
    if (reason == "too-many-requests")
        return {"Please wait a moment", "Too many launches were asked for just now. Please try again in a minute.", {}, {}};
    if (reason == "context-expired")
        return {"This link has expired", "This confirmation link is no longer valid. The referral's status is shown in Ocean.", {}, {}};
    if (reason == "other-browser")
        return {"Open this in the same browser", "This confirmation belongs to the browser the referral was opened in.", {}, {}};
    if (reason == "malformed-context" || reason == "context-forged")
        return {"This link is not valid", "The link is damaged or was not issued by this service. " + back, {}, {}};
    if (reason == "framing-refused")
        return {"Open this outside a frame", "This launch opens " + app + " in its own window. " + back, {}, {}};
    if (reason == "no-such-integration")
        return {"Page not found", "There is no referral launch at this address.", {}, {}};
    return {"Something went wrong", "The launch could not be completed. " + back, {}, {}};
}

PageContent outcome_page(const Integration& integration, std::string_view outcome) {
    const std::string& app = integration.branding.application_name;
    if (outcome == "accepted") {
        std::string message = integration.branding.confirmation_message.value_or(
            "The referral was accepted by " + app + ". You can close this page.");
        return {"Referral accepted", std::move(message), {}, {}};
    }
    if (outcome == "declined")
        return {"Referral not accepted", app + " did not accept this referral. Its status is shown in Ocean.", {}, {}};
    return {"Referral cancelled", "The referral was not completed in " + app + ". It remains in Ocean.", {}, {}};
}

PageContent handoff_page(const Integration& integration, const std::string& hub_url) {
    const Branding& b = integration.branding;
    std::string message = "Your referral was sent in Ocean. " + b.application_name + " opens next";
    if (!b.referral_form.empty()) message += " with the " + b.referral_form;
    message += ".";
    return {"Opening " + b.application_name, std::move(message),
            std::make_pair("Continue to " + b.application_name, hub_url), integration.handoff_delay};
}

}  // namespace relay::launch
