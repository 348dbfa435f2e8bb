#include "state.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "relay/core/encoding.hpp"

namespace relay::router {

namespace json = boost::json;
using transform::Referral;

namespace {

// -- content fingerprint: every canonical field except the envelope and the receiver side ----------

void hash(Sha256& h, const transform::Note& n);
void hash(Sha256& h, const transform::FormItem& i);
void hash(Sha256& h, const transform::Form& f);
void hash(Sha256& h, const transform::Attachment& a);
void hash(Sha256& h, const transform::Clinician& c);

void hash(Sha256& h, const std::vector<std::string>& items) {
    h.field(std::to_string(items.size()));
    for (const auto& s : items) h.field(s);
}
void hash(Sha256& h, const transform::Coding& c) {
    h.field(c.system).field(c.code).field(c.display);
}
void hash(Sha256& h, const transform::Telecom& t) {
    h.field(t.system).field(t.value).field(t.use);
}
void hash(Sha256& h, const transform::Address& a) {
    h.field(a.use).field(a.type);
    hash(h, a.lines);
    h.field(a.city).field(a.province).field(a.postal_code).field(a.country);
}
void hash(Sha256& h, const transform::Identifier& i) {
    h.field(i.system).field(i.value).field(i.type_code);
}
void hash(Sha256& h, const transform::HumanName& n) {
    h.field(n.family);
    hash(h, n.given);
    hash(h, n.prefix);
    h.field(n.text);
}
template <typename T>
void hash(Sha256& h, const std::vector<T>& items) {
    h.field(std::to_string(items.size()));
    for (const auto& item : items) hash(h, item);
}
template <typename T>
void hash(Sha256& h, const std::optional<T>& value) {
    h.field(value ? "1" : "0");
    if (value) hash(h, *value);
}
void hash(Sha256& h, const transform::Patient& p) {
    h.field(p.health_number).field(p.health_number_version).field(p.mrn);
    hash(h, p.other_identifiers);
    hash(h, p.name);
    h.field(p.gender).field(p.birth_date);
    hash(h, p.telecom);
    hash(h, p.addresses);
    h.field(p.language);
}
void hash(Sha256& h, const transform::Clinician& c) {
    hash(h, c.name);
    h.field(c.licence).field(c.billing_number).field(c.username);
    hash(h, c.other_identifiers);
    hash(h, c.telecom);
    h.field(c.location_name);
    hash(h, c.address);
    hash(h, c.specialty);
}
void hash(Sha256& h, const transform::Listing& l) {
    h.field(l.listing_ref)
        .field(l.site_number)
        .field(l.external_service_id)
        .field(l.name)
        .field(l.location_name);
    hash(h, l.address);
    hash(h, l.telecom);
    hash(h, l.specialty);
}
void hash(Sha256& h, const transform::Note& n) {
    h.field(n.html).field(n.time);
}
void hash(Sha256& h, const transform::FormItem& i) {
    h.field(i.link_id).field(i.text);
    hash(h, i.answers);
    h.field(i.hidden ? "hidden" : "visible");
}
void hash(Sha256& h, const transform::Form& f) {
    h.field(f.form_ref).field(f.status).field(f.authored);
    hash(h, f.items);
}
void hash(Sha256& h, const transform::Attachment& a) {
    // Inline data by its digest: a changed attachment is a changed referral.
    h.field(a.id).field(a.status).field(a.content_type).field(a.title).field(a.url);
    h.field(relay::sha256(a.data_base64));
    h.field(std::to_string(a.size)).field(a.created).field(a.description);
}

std::string task_item(const transform::Task& t) {
    return "task|" + t.status + "|" + t.status_reason;
}
std::string appointment_item(const transform::Appointment& a) {
    return "appointment|" + a.id + "|" + a.status + "|" + a.start + "|" + a.end + "|" + a.patient_status;
}
std::string communication_item(const transform::Communication& c) {
    return "communication|" + c.id;
}

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::string idempotency_key(const Referral& r) {
    return idempotency_key(r, r.target.site_number);
}

std::string idempotency_key(const Referral& r, std::string_view site) {
    const std::string& message_id = !r.message_header_id.empty() ? r.message_header_id : r.bundle_id;
    return hex_encode(Sha256()
                          .field(site)
                          .field(r.referral_ref)
                          .field(r.event)
                          .field(message_id)
                          .field(r.timestamp)
                          .finish());
}

std::optional<std::int64_t> parse_fhir_instant_ms(std::string_view text) {
    using namespace std::chrono;
    const auto digits = [&text](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > text.size()) return false;
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            out = out * 10 + (text[i] - '0');
        }
        return true;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!digits(0, 4, y) || text.size() < 19 || text[4] != '-' || !digits(5, 2, mo) || text[7] != '-' ||
        !digits(8, 2, d) || text[10] != 'T' || !digits(11, 2, h) || text[13] != ':' || !digits(14, 2, mi) ||
        text[16] != ':' || !digits(17, 2, s))
        return std::nullopt;
    const year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
    std::int64_t ms = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count() +
                      ((h * 60LL + mi) * 60LL + s) * 1000LL;
    std::size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t start = ++pos;
        int fraction = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (pos - start < 3) fraction = fraction * 10 + (text[pos] - '0');
            ++pos;
        }
        if (pos == start) return std::nullopt;
        for (std::size_t n = pos - start; n < 3; ++n) fraction *= 10;
        ms += fraction;
    }
    if (pos >= text.size()) return std::nullopt;
    if (text[pos] == 'Z' && pos + 1 == text.size()) return ms;
    int oh = 0, om = 0;
    if ((text[pos] != '+' && text[pos] != '-') || text.size() != pos + 6 || !digits(pos + 1, 2, oh) ||
        text[pos + 3] != ':' || !digits(pos + 4, 2, om) || oh > 23 || om > 59)
        return std::nullopt;
    const std::int64_t offset = (oh * 60LL + om) * 60'000LL;
    return text[pos] == '+' ? ms - offset : ms + offset;
}

std::optional<std::int64_t> ocean_time_ms(const Referral& r) {
    if (auto t = parse_fhir_instant_ms(r.timestamp)) return t;
    return parse_fhir_instant_ms(r.last_updated);
}

std::string content_fingerprint(const Referral& r) {
    Sha256 h;
    h.field(r.referral_ref).field(r.status).field(r.intent).field(r.priority).field(r.authored_on);
    h.field(r.test_data ? "test" : "live");
    hash(h, r.categories);
    hash(h, r.order_details);
    hash(h, r.notes);
    hash(h, r.patient);
    hash(h, r.referrer);
    hash(h, r.submitter);
    hash(h, r.target);
    hash(h, r.form);
    hash(h, r.attachments);
    return hex_encode(h.finish());
}

std::vector<std::string> receiver_items(const std::vector<transform::Task>& tasks,
                                        const std::vector<transform::Appointment>& appointments,
                                        const std::vector<transform::Communication>& communications) {
    std::vector<std::string> items;
    items.reserve(tasks.size() + appointments.size() + communications.size());
    for (const auto& t : tasks) items.push_back(task_item(t));
    for (const auto& a : appointments) items.push_back(appointment_item(a));
    for (const auto& c : communications) items.push_back(communication_item(c));
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    return items;
}

std::vector<std::string> receiver_items(const Referral& r) {
    return receiver_items(r.tasks, r.appointments, r.communications);
}

// -- the state record ----------------------------------------------------------------------------

std::string encode_state(const ReferralState& state) {
    json::array seen;
    seen.reserve(state.seen.size());
    for (const auto& s : state.seen) seen.push_back(json::array{json::string(s.key), s.at});
    auto strings = [](const std::vector<std::string>& items) {
        json::array out;
        out.reserve(items.size());
        for (const auto& i : items) out.emplace_back(i);
        return out;
    };
    json::object out{{"v", 1},
                     {"seen", std::move(seen)},
                     {"content", state.content},
                     {"receiver", strings(state.receiver)},
                     {"pushed", strings(state.pushed)},
                     {"updated_at", state.updated_at}};
    // Optional within version 1: a reader without it ignores it, and a record without it decodes as
    // "unknown", so routers of either kind can read each other's changelog during a rolling upgrade.
    if (state.ocean_ms != 0) out["ocean_at_ms"] = state.ocean_ms;
    return json::serialize(out);
}

std::optional<ReferralState> decode_state(std::string_view text) {
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec || !root.is_object()) return std::nullopt;
    const auto& o = root.as_object();
    const auto* version = o.if_contains("v");
    if (version == nullptr || !version->is_int64() || version->as_int64() != 1) return std::nullopt;
    ReferralState state;
    if (const auto* seen = o.if_contains("seen"); seen != nullptr && seen->is_array()) {
        for (const auto& s : seen->as_array()) {
            if (!s.is_array() || s.as_array().size() != 2 || !s.as_array()[0].is_string() ||
                !s.as_array()[1].is_int64())
                return std::nullopt;
            state.seen.push_back({std::string(s.as_array()[0].as_string()), s.as_array()[1].as_int64()});
        }
    }
    state.content = str(o, "content");
    auto strings = [&o](std::string_view key, std::vector<std::string>& out) {
        const auto* v = o.if_contains(key);
        if (v == nullptr || !v->is_array()) return;
        for (const auto& i : v->as_array())
            if (i.is_string()) out.emplace_back(i.as_string());
    };
    strings("receiver", state.receiver);
    strings("pushed", state.pushed);
    if (const auto* at = o.if_contains("updated_at"); at != nullptr && at->is_int64())
        state.updated_at = at->as_int64();
    if (const auto* at = o.if_contains("ocean_at_ms"); at != nullptr && at->is_int64())
        state.ocean_ms = at->as_int64();
    return state;
}

// -- decisions -----------------------------------------------------------------------------------

const char* to_string(Verdict verdict) {
    switch (verdict) {
        case Verdict::kDeliver:
            return "deliver";
        case Verdict::kDuplicate:
            return "duplicate";
        case Verdict::kEcho:
            return "echo";
        case Verdict::kStale:
            return "stale";
    }
    return "unknown";
}

ReferralState& PartitionStore::slot(const std::string& referral_ref) {
    return states_[referral_ref];
}

void PartitionStore::remember(ReferralState& state, const std::string& key, std::int64_t now) const {
    const std::int64_t horizon = now - policy_.window.count();
    std::erase_if(state.seen, [horizon](const SeenKey& s) { return s.at < horizon; });
    state.seen.push_back({key, now});
    if (state.seen.size() > policy_.max_keys)
        state.seen.erase(
            state.seen.begin(),
            state.seen.begin() + static_cast<std::ptrdiff_t>(state.seen.size() - policy_.max_keys));
    state.updated_at = now;
}

Verdict PartitionStore::take(const Referral& referral, const std::string& key, std::int64_t now) {
    ReferralState& state = slot(referral.referral_ref);
    const std::int64_t horizon = now - policy_.window.count();
    for (const auto& s : state.seen)
        if (s.key == key && s.at >= horizon) return Verdict::kDuplicate;

    // Equal times, or a time missing on either side, order nothing: taken in as before.
    std::optional<std::int64_t> ocean = ocean_time_ms(referral);
    if (ocean && *ocean > (now + policy_.max_clock_skew.count()) * 1000) ocean.reset();
    if (ocean && state.ocean_ms != 0 && *ocean < state.ocean_ms) {
        remember(state, key, now);
        return Verdict::kStale;
    }
    if (ocean) state.ocean_ms = *ocean;

    std::string content = content_fingerprint(referral);
    std::vector<std::string> receiver = receiver_items(referral);
    Verdict verdict = Verdict::kDeliver;
    if (policy_.suppress_echo && referral.event == "notify-update-service-request" && !state.pushed.empty() &&
        content == state.content) {
        // Ocean's echo repeats everything and adds what we pushed: the items new since the last bundle
        // must all be ones the updater pushed, and there must be at least one.
        std::vector<std::string> changes;
        std::set_difference(receiver.begin(),
                            receiver.end(),
                            state.receiver.begin(),
                            state.receiver.end(),
                            std::back_inserter(changes));
        const bool only_pushed =
            !changes.empty() && std::all_of(changes.begin(), changes.end(), [&](const auto& c) {
                return std::binary_search(state.pushed.begin(), state.pushed.end(), c);
            });
        if (only_pushed) {
            verdict = Verdict::kEcho;
            std::vector<std::string> still_pending;
            std::set_difference(state.pushed.begin(),
                                state.pushed.end(),
                                changes.begin(),
                                changes.end(),
                                std::back_inserter(still_pending));
            state.pushed = std::move(still_pending);
        }
    }
    state.content = std::move(content);
    state.receiver = std::move(receiver);
    remember(state, key, now);
    return verdict;
}

void PartitionStore::record_pushed(const PushedUpdate& pushed, std::int64_t now) {
    ReferralState& state = slot(pushed.referral_ref);
    auto items = receiver_items(pushed.tasks, pushed.appointments, pushed.communications);
    std::vector<std::string> merged;
    std::set_union(
        state.pushed.begin(), state.pushed.end(), items.begin(), items.end(), std::back_inserter(merged));
    state.pushed = std::move(merged);
    state.updated_at = now;
}

const ReferralState* PartitionStore::find(std::string_view referral_ref) const {
    const auto it = states_.find(std::string(referral_ref));
    return it == states_.end() ? nullptr : &it->second;
}

void PartitionStore::restore(std::string referral_ref, ReferralState state) {
    states_[std::move(referral_ref)] = std::move(state);
}

void PartitionStore::erase(std::string_view referral_ref) {
    states_.erase(std::string(referral_ref));
}

std::vector<std::string> PartitionStore::evict_idle(std::int64_t now) {
    const std::int64_t horizon = now - policy_.retention.count();
    std::vector<std::string> evicted;
    for (auto it = states_.begin(); it != states_.end();) {
        if (it->second.updated_at < horizon) {
            evicted.push_back(it->first);
            it = states_.erase(it);
        } else {
            ++it;
        }
    }
    return evicted;
}

}  // namespace relay::router
