// A rendered referral with its documents inside: the bytes of each document the referral points to by
// URL (the letter, the attachments; fetched by the fetcher with the site's token) put where the payload
// references that URL, for destinations configured `documents: inline`.
//
//   fhir-r4, ocean-fhir  every DocumentReference.content[].attachment whose `url` is the document's gets
//                        `data` (base64) and `size`, and `contentType` where it had none (R4's att-1: data
//                        needs one); `url` stays, so the receiver still knows the source.
//                        An ocean-fhir payload is then Ocean's bundle re-serialised, no longer its bytes.
//   hub-json             every attachments[] entry whose `url` is the document's gets `data_base64` and
//                        `size` (the schema's inline form), and `content_type` where it was empty.
//   open-api             no place for them: embedding is refused (the router's configuration refuses
//                        `documents: inline` for it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/transform/render.hpp"

namespace relay::transform {

/// One fetched document: the URL the payload names it by, and its bytes.
struct DocumentContent {
    std::string url;
    std::string bytes;
    /// As served; used where the payload names none (empty: application/octet-stream).
    std::string content_type;
};

struct EmbedResult {
    std::string payload;
    std::size_t embedded = 0;  ///< documents placed (a document the payload does not name is left out)
};

/// Whether `format` has a place for document bytes.
bool can_embed_documents(Format format);

/// `payload` (as render() wrote it for `format`) with the documents' bytes embedded. nullopt when the
/// format has no place for them or the payload is not the JSON that format renders.
std::optional<EmbedResult> embed_documents(Format format,
                                           std::string_view payload,
                                           const std::vector<DocumentContent>& documents);

}  // namespace relay::transform
