#include "relay/transform/embed.hpp"

#include <boost/json.hpp>

#include "relay/core/encoding.hpp"

namespace relay::transform {

namespace json = boost::json;

namespace {

std::string media_type(const DocumentContent& d) {
    return d.content_type.empty() ? std::string("application/octet-stream") : d.content_type;
}

const DocumentContent* document_for(const json::object& holder, const std::vector<DocumentContent>& documents) {
    const auto* url = holder.if_contains("url");
    if (url == nullptr || !url->is_string() || url->as_string().empty()) return nullptr;
    for (const auto& d : documents)
        if (url->as_string() == d.url) return &d;
    return nullptr;
}

/// Bundle.entry[].resource of type DocumentReference: content[].attachment.
std::size_t embed_fhir(json::object& bundle, const std::vector<DocumentContent>& documents) {
    std::size_t embedded = 0;
    auto* entries = bundle.if_contains("entry");
    if (entries == nullptr || !entries->is_array()) return 0;
    for (auto& entry : entries->as_array()) {
        if (!entry.is_object()) continue;
        auto* resource = entry.as_object().if_contains("resource");
        if (resource == nullptr || !resource->is_object()) continue;
        auto& r = resource->as_object();
        const auto* type = r.if_contains("resourceType");
        if (type == nullptr || !type->is_string() || type->as_string() != "DocumentReference") continue;
        auto* content = r.if_contains("content");
        if (content == nullptr || !content->is_array()) continue;
        for (auto& c : content->as_array()) {
            if (!c.is_object()) continue;
            auto* attachment = c.as_object().if_contains("attachment");
            if (attachment == nullptr || !attachment->is_object()) continue;
            auto& a = attachment->as_object();
            if (const DocumentContent* d = document_for(a, documents)) {
                a["data"] = base64_encode(d->bytes);
                a["size"] = d->bytes.size();
                const auto* type = a.if_contains("contentType");
                if (type == nullptr || !type->is_string() || type->as_string().empty()) a["contentType"] = media_type(*d);
                ++embedded;
            }
        }
    }
    return embedded;
}

std::size_t embed_hub_json(json::object& referral, const std::vector<DocumentContent>& documents) {
    std::size_t embedded = 0;
    auto* attachments = referral.if_contains("attachments");
    if (attachments == nullptr || !attachments->is_array()) return 0;
    for (auto& item : attachments->as_array()) {
        if (!item.is_object()) continue;
        auto& a = item.as_object();
        if (const DocumentContent* d = document_for(a, documents)) {
            a["data_base64"] = base64_encode(d->bytes);
            a["size"] = d->bytes.size();
            const auto* type = a.if_contains("content_type");
            if (type == nullptr || !type->is_string() || type->as_string().empty()) a["content_type"] = media_type(*d);
            ++embedded;
        }
    }
    return embedded;
}

}  // namespace

bool can_embed_documents(Format format) {
    return format == Format::kFhirR4 || format == Format::kOceanFhir || format == Format::kHubJson;
}

std::optional<EmbedResult> embed_documents(Format format,
                                           std::string_view payload,
                                           const std::vector<DocumentContent>& documents) {
    if (!can_embed_documents(format)) return std::nullopt;
    boost::system::error_code ec;
    json::value root = json::parse(payload, ec);
    if (ec || !root.is_object()) return std::nullopt;
    EmbedResult result;
    result.embedded = format == Format::kHubJson ? embed_hub_json(root.as_object(), documents)
                                                 : embed_fhir(root.as_object(), documents);
    result.payload = json::serialize(root);
    return result;
}

}  // namespace relay::transform
