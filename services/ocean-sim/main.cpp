// ocean-sim: Ocean's side of the integration, for tests, benchmarks, the demo and rehearsals.
// This milestone: the referral generator and Ocean's webhooks (auth schemes, retries, resends, duplicates).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <thread>

#include "api_faults.hpp"
#include "ocean_api.hpp"
#include "open_api_webhook.hpp"
#include "open_api_writes.hpp"
#include "referral_state.hpp"
#include "relay/core/log.hpp"
#include "sim_config.hpp"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using relay::ocean_sim::Observations;

std::string metrics_text(const Observations& observations) {
    const auto s = observations.summary();
    std::string out;
    out +=
        "# HELP ocean_sim_webhook_attempts_total Webhook attempts made\n# TYPE "
        "ocean_sim_webhook_attempts_total counter\n";
    out += fmt::format("ocean_sim_webhook_attempts_total {}\n", s.attempts);
    out +=
        "# HELP ocean_sim_webhook_delivered_total Messages answered with a 2xx\n# TYPE "
        "ocean_sim_webhook_delivered_total counter\n";
    out += fmt::format("ocean_sim_webhook_delivered_total {}\n", s.delivered);
    out +=
        "# HELP ocean_sim_webhook_gave_up_total Messages Ocean stopped retrying\n# TYPE "
        "ocean_sim_webhook_gave_up_total counter\n";
    out += fmt::format("ocean_sim_webhook_gave_up_total {}\n", s.gave_up);
    out += "# HELP ocean_sim_webhook_responses_total Attempts by HTTP status (0 = no response)\n";
    out += "# TYPE ocean_sim_webhook_responses_total counter\n";
    for (const auto& [status, n] : s.statuses)
        out += fmt::format("ocean_sim_webhook_responses_total{{code=\"{}\"}} {}\n", status, n);
    if (s.open_api.enabled) {
        const auto& o = s.open_api;
        out +=
            "# HELP ocean_sim_open_api_notifications_delivered_total Open API notifications answered with a "
            "2xx\n# TYPE ocean_sim_open_api_notifications_delivered_total counter\n";
        for (const auto& [type, n] : o.delivered_by_type)
            out +=
                fmt::format("ocean_sim_open_api_notifications_delivered_total{{type=\"{}\"}} {}\n", type, n);
        out +=
            "# HELP ocean_sim_open_api_notifications_gave_up_total Open API notifications Ocean stopped "
            "retrying or never sent (integration invalid)\n# TYPE "
            "ocean_sim_open_api_notifications_gave_up_total "
            "counter\n";
        out += fmt::format("ocean_sim_open_api_notifications_gave_up_total {}\n", o.gave_up);
        out +=
            "# HELP ocean_sim_open_api_challenge_failures_total Challenge attempts not answered with the "
            "echo\n# TYPE ocean_sim_open_api_challenge_failures_total counter\n";
        out += fmt::format("ocean_sim_open_api_challenge_failures_total {}\n", o.challenge_failures);
        out +=
            "# HELP ocean_sim_open_api_integration_valid 1 once the challenge was echoed\n# TYPE "
            "ocean_sim_open_api_integration_valid gauge\n";
        out += fmt::format("ocean_sim_open_api_integration_valid {}\n", o.challenge == "passed" ? 1 : 0);
    }
    return out;
}

/// Ocean's FHIR webhooks, then (when configured) the Open API notifications still due about them.
asio::awaitable<void> run_simulation(relay::ocean_sim::WebhookSender& sender,
                                     relay::ocean_sim::OpenApiNotifier* notifier) {
    co_await sender.run();
    if (notifier == nullptr) co_return;
    notifier->no_more_referrals();
    co_await notifier->finished();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ocean-sim: Ocean's side of the integration (referral generator and webhooks) for tests and demos"};
    std::string config_path;
    bool check_only = false;
    app.add_option(
           "-c,--config", config_path, "YAML configuration (RELAY_SIM_* environment variables override keys)")
        ->required();
    app.add_flag("--check-config", check_only, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);
    relay::log::set_service("ocean-sim");

    try {
        auto reader = relay::ConfigReader::from_file(config_path, "RELAY_SIM");
        relay::ocean_sim::SimConfig config = relay::ocean_sim::load_sim_config(reader);
        if (check_only) {
            std::cout << "configuration OK\n";
            return 0;
        }
        relay::log::set_level(config.log_level);
        asio::io_context ioc;
        Observations observations(config.observations_file);

        relay::ocean_sim::ReferralState state;
        std::unique_ptr<relay::ocean_sim::OceanApi> api;
        if (config.api) {
            api = std::make_unique<relay::ocean_sim::OceanApi>(*config.api, state);
            if (config.updates_file) api->log_updates_to(*config.updates_file);
        }

        relay::http::Server admin(
            ioc,
            config.admin,
            [&observations, &api, &state](relay::http::Request& request, const relay::http::RequestContext&)
                -> asio::awaitable<relay::http::Response> {
                relay::http::Response res{bhttp::status::ok, request.version()};
                const std::string_view target(request.target().data(), request.target().size());
                if (target == "/metrics") {
                    res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
                    res.body() = metrics_text(observations);
                } else if (target == "/healthz") {
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = R"({"status":"ok"})";
                } else if (target == "/observations") {
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = observations.summary_json();
                } else if (target == "/updates" && api) {
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = api->updates_json();
                } else if (target == "/referrals" && api) {
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = state.to_json();
                } else if (target == "/open-api-writes" && api) {
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = api->writes_json();
                } else {
                    res.result(bhttp::status::not_found);
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = R"({"error":"not_found"})";
                }
                co_return res;
            });
        admin.start();
        relay::log::info("ocean-sim started",
                         {{"admin_port", static_cast<int>(admin.port())},
                          {"target_url", config.webhooks.target_url},
                          {"count", static_cast<long long>(config.webhooks.count)}});

        relay::ocean_sim::WebhookSender sender(ioc.get_executor(), config.webhooks, observations);
        // Ocean's Open API webhook: notifications about referrals whose FHIR webhook was acknowledged.
        std::unique_ptr<relay::ocean_sim::OpenApiNotifier> notifier;
        if (config.open_api) {
            notifier = std::make_unique<relay::ocean_sim::OpenApiNotifier>(
                sender.executor(), *config.open_api, config.webhooks.count, observations);
            sender.on_acknowledged(
                [n = notifier.get()](const std::string& ref) { n->referral_acknowledged(ref); });
            asio::co_spawn(sender.executor(), notifier->run(), [](std::exception_ptr e) {
                if (e) relay::log::error("Open API notifier failed");
            });
            relay::log::info(
                "Open API webhook notifications planned",
                {{"patient_notifications", static_cast<long long>(config.open_api->patient_notifications)},
                 {"referral_notifications",
                  static_cast<long long>(config.open_api->referral_notifications)}});
        }
        std::unique_ptr<relay::ocean_sim::ApiFaults> api_faults;
        std::unique_ptr<relay::http::Server> api_server;
        if (api) {
            sender.record_into(&state);
            // Ocean's echo: every update it applied comes back as notify-update-service-request.
            api->on_applied([&sender](const relay::ocean_sim::AppliedUpdate& applied) {
                if (!applied.echo_update) return;
                asio::co_spawn(sender.executor(), sender.echo(applied.referral_ref), asio::detached);
            });
            // The simulated patient completes each eForm link after a while; the notifier (on the
            // sender's executor) then tells the integration.
            if (config.open_api && config.open_api->complete_links_after) {
                api->on_link_issued(
                    [&sender, &api, n = notifier.get(), delay = *config.open_api->complete_links_after](
                        const relay::ocean_sim::FormLink& link) {
                        asio::co_spawn(
                            sender.executor(),
                            relay::ocean_sim::complete_form_link_after(*api, n, link.session_id, delay),
                            asio::detached);
                    });
            }
            api_faults = std::make_unique<relay::ocean_sim::ApiFaults>(config.api_faults, config.fault_seed);
            relay::http::ServerHooks hooks;
            // Each route's body limit before its body is read: only attachments may be large.
            hooks.admission = [](const relay::http::Request& request, relay::http::RequestContext& context) {
                context.body_limit = relay::ocean_sim::api_body_limit(request);
                return std::optional<relay::http::Response>();
            };
            api_server = std::make_unique<relay::http::Server>(
                ioc, config.api_listener, api_faults->wrap(api->handler()), std::move(hooks));
            api_server->start();
            relay::log::info("Ocean API listening", {{"port", static_cast<int>(api_server->port())}});
        }
        // With an Ocean API to serve, the simulator keeps running after its webhooks until SIGTERM.
        const bool exit_when_done = config.exit_when_done && !api;
        bool finished = false;
        asio::co_spawn(sender.executor(), run_simulation(sender, notifier.get()), [&](std::exception_ptr e) {
            finished = true;
            if (e) relay::log::error("webhook sender failed");
            std::cout << observations.summary_json() << std::endl;
            if (exit_when_done) {
                admin.stop_accepting();
                admin.drain();
                ioc.stop();
            }
        });
        asio::signal_set signals(ioc, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            relay::log::info("signal received: stopping after the messages in flight");
            sender.stop();
            if (notifier) notifier->stop();
            if (api_server) {
                api_server->stop_accepting();
                api_server->drain();
            }
            if (finished) ioc.stop();
        });
        ioc.run();
        const auto summary = observations.summary();
        return summary.gave_up == 0 && summary.open_api.gave_up == 0 ? 0 : 3;
    } catch (const relay::ConfigError& e) {
        std::cerr << "configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ocean-sim failed: " << e.what() << "\n";
        return 1;
    }
}
