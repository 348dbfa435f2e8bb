#include "parking.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

namespace relay::delivery_service {

namespace json = boost::json;

std::string make_token(std::int32_t partition, std::int64_t offset) {
    return fmt::format("{}:{}", partition, offset);
}

std::string parked_record_key(std::string_view key, std::string_view token) {
    std::string out;
    out.reserve(key.size() + 1 + token.size());
    out.append(key).push_back('#');
    out.append(token);
    return out;
}

std::string encode_head(std::string_view token, HeadLocation location) {
    return json::serialize(json::object{
        {"v", 1}, {"head", token}, {"location", location == HeadLocation::kTier ? "tier" : "parked"}});
}

std::optional<HeadInfo> decode_head(std::string_view value) {
    boost::system::error_code ec;
    const json::value doc = json::parse(value, ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const auto& o = doc.as_object();
    const auto* head = o.if_contains("head");
    const auto* location = o.if_contains("location");
    if (head == nullptr || !head->is_string() || location == nullptr || !location->is_string())
        return std::nullopt;
    HeadInfo info;
    info.token = std::string(head->as_string());
    if (location->as_string() == "tier")
        info.location = HeadLocation::kTier;
    else if (location->as_string() == "parked")
        info.location = HeadLocation::kParked;
    else
        return std::nullopt;
    return info;
}

void ParkingRestore::add(std::string_view key, std::optional<std::string_view> value, std::int64_t offset) {
    const auto hash = key.rfind('#');
    if (hash == std::string_view::npos) {
        if (!value) {
            heads_.erase(std::string(key));
            return;
        }
        if (auto head = decode_head(*value))
            heads_[std::string(key)] = std::move(*head);
        else
            ++anomalies_;
        return;
    }
    const std::string base(key.substr(0, hash));
    const std::string token(key.substr(hash + 1));
    if (value) {
        parked_[base][token] = offset;
    } else if (const auto it = parked_.find(base); it != parked_.end()) {
        it->second.erase(token);
        if (it->second.empty()) parked_.erase(it);
    }
}

std::map<std::string, ParkedKey> ParkingRestore::finish() {
    std::map<std::string, ParkedKey> out;
    auto in_order = [](const std::map<std::string, std::int64_t>& tokens) {
        std::vector<ParkedRecord> records;
        for (const auto& [token, offset] : tokens) records.push_back({token, offset});
        std::sort(
            records.begin(), records.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
        return records;
    };
    for (auto& [key, head] : heads_) {
        ParkedKey state;
        state.head_token = head.token;
        state.location = head.location;
        const auto parked = parked_.find(key);
        std::vector<ParkedRecord> records;
        if (parked != parked_.end()) records = in_order(parked->second);
        for (auto& r : records) {
            if (r.token == head.token) {
                state.head_offset = r.offset;
                continue;
            }
            state.waiting.push_back(std::move(r));
        }
        if (state.location == HeadLocation::kParked && state.head_offset < 0) {
            // The head's body is gone: nothing to send for it. Its followers still go, in order.
            ++anomalies_;
            if (state.waiting.empty()) continue;
            state.head_token = state.waiting.front().token;
            state.head_offset = state.waiting.front().offset;
            state.waiting.pop_front();
        }
        out.emplace(key, std::move(state));
    }
    for (auto& [key, tokens] : parked_) {
        if (heads_.contains(key) || tokens.empty()) continue;
        // Parked records without a head: release the oldest.
        auto records = in_order(tokens);
        ParkedKey state;
        state.location = HeadLocation::kParked;
        state.head_token = records.front().token;
        state.head_offset = records.front().offset;
        for (std::size_t i = 1; i < records.size(); ++i) state.waiting.push_back(std::move(records[i]));
        out.emplace(key, std::move(state));
    }
    return out;
}

}  // namespace relay::delivery_service
