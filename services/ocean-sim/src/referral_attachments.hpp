// The attachments of the Open eReferral referrals ocean-sim serves (ocean-api.md §4.4 `bookingFileRefs`,
// §4.3 GET /svc/v1/referrals/{ref}/attachments/{fileRef}). Everything here is a pure function of the
// referral ref: the simulator stores nothing for them, a restarted simulator serves the same ones, and a
// test knows the expected bytes without asking the simulator.
//
// Every referral has a PDF referral form; about half also have a requisition, a PNG or a text file. The
// bytes name the fileRef only (no patient data): recognisable in a delivery, and safe to log or compare.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::ocean_sim {

/// One entry of a referral's bookingFileRefs (AttachmentRef: fileRef, fileName) and its media type.
struct OpenApiAttachment {
    /// A name-based UUID (RFC 9562 version 8, from SHA-256 of a fixed namespace, the referral ref and the
    /// attachment's role), lower-case canonical form: the same referral always gets the same fileRefs, and
    /// two referrals never share one.
    std::string file_ref;
    std::string file_name;     ///< "referral-form.pdf", "requisition.png" or "requisition.txt"
    std::string content_type;  ///< "application/pdf", "image/png" or "text/plain; charset=utf-8"
};

/// The attachments of `referral_ref`, in bookingFileRefs order: one or two, the referral form first.
std::vector<OpenApiAttachment> open_api_attachments(std::string_view referral_ref);

/// The attachment `file_ref` of `referral_ref`; nullopt when that referral has no such attachment.
std::optional<OpenApiAttachment> find_open_api_attachment(std::string_view referral_ref,
                                                          std::string_view file_ref);

/// The bytes of attachment `file_ref` of `referral_ref` as the GET serves them once decrypted; nullopt
/// when that referral has no such attachment. The PDF starts `%PDF-1.4`, the PNG with the PNG signature,
/// and each names the fileRef (the PDF's page text, the PNG's tEXt Title, the text's first line).
std::optional<std::string> open_api_attachment_bytes(std::string_view referral_ref,
                                                     std::string_view file_ref);

/// A valid 1x1 white greyscale PNG whose tEXt chunk `Title` is `title` (Latin-1 text; CRCs computed).
std::string minimal_png(std::string_view title);

}  // namespace relay::ocean_sim
