#include "referral_attachments.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>

#include "generator.hpp"
#include "ocean_api.hpp"
#include "relay/core/encoding.hpp"

namespace relay::ocean_sim {

namespace {

// Hashed ahead of every name, so these ids cannot collide with name-based ids made for anything else.
constexpr std::string_view kNamespace = "ocean-sim/open-api-referral-attachment";
constexpr std::string_view kReferralForm = "referral-form";
constexpr std::string_view kRequisition = "requisition";

std::string digest(std::string_view referral_ref, std::string_view role) {
    return Sha256().field(kNamespace).field(referral_ref).field(role).finish();
}

// RFC 9562 §5.8 version 8 with a SHA-256 name hash (its Appendix B.2 example): the first 128 bits of the
// hash with the version and variant bits set.
std::string name_based_uuid(std::string_view referral_ref, std::string_view role) {
    std::string bytes = digest(referral_ref, role).substr(0, 16);
    bytes[6] = static_cast<char>((static_cast<unsigned char>(bytes[6]) & 0x0f) | 0x80);
    bytes[8] = static_cast<char>((static_cast<unsigned char>(bytes[8]) & 0x3f) | 0x80);
    return format_uuid(bytes);
}

void put_be32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

std::uint32_t crc32(std::string_view bytes) {
    std::uint32_t crc = 0xffffffffU;
    for (const char c : bytes) {
        crc ^= static_cast<unsigned char>(c);
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
    }
    return ~crc;
}

std::uint32_t adler32(std::string_view bytes) {
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (const char c : bytes) {
        a = (a + static_cast<unsigned char>(c)) % 65521U;
        b = (b + a) % 65521U;
    }
    return (b << 16) | a;
}

void put_chunk(std::string& png, std::string_view type, std::string_view data) {
    put_be32(png, static_cast<std::uint32_t>(data.size()));
    std::string typed(type);
    typed += data;
    png += typed;
    put_be32(png, crc32(typed));
}

}  // namespace

std::string minimal_png(std::string_view title) {
    std::string png("\x89PNG\r\n\x1a\n", 8);
    std::string header;
    put_be32(header, 1);                               // width
    put_be32(header, 1);                               // height
    header += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit greyscale, deflate, no filter, no interlace
    put_chunk(png, "IHDR", header);
    std::string text = "Title";
    text.push_back('\0');
    text += title;
    put_chunk(png, "tEXt", text);
    // One scanline (filter byte 0, one white pixel) in a zlib stream with a single stored deflate block:
    // no compressor needed, and any PNG reader inflates it.
    const std::string scanline("\x00\xff", 2);
    std::string zlib("\x78\x01\x01\x02\x00\xfd\xff", 7);
    zlib += scanline;
    put_be32(zlib, adler32(scanline));
    put_chunk(png, "IDAT", zlib);
    put_chunk(png, "IEND", {});
    return png;
}

std::vector<OpenApiAttachment> open_api_attachments(std::string_view referral_ref) {
    std::vector<OpenApiAttachment> out;
    out.push_back({name_based_uuid(referral_ref, kReferralForm), "referral-form.pdf", "application/pdf"});
    // Whether there is a requisition, and which kind, are bits of the referral's own hash: about half of
    // the referrals have one, a PNG or a text file in equal shares.
    const std::string bits = digest(referral_ref, "shape");
    const auto b0 = static_cast<unsigned char>(bits[0]);
    const auto b1 = static_cast<unsigned char>(bits[1]);
    if ((b0 & 1U) != 0) {
        if ((b1 & 1U) != 0)
            out.push_back({name_based_uuid(referral_ref, kRequisition), "requisition.png", "image/png"});
        else
            out.push_back({name_based_uuid(referral_ref, kRequisition),
                           "requisition.txt",
                           "text/plain; charset=utf-8"});
    }
    return out;
}

std::optional<OpenApiAttachment> find_open_api_attachment(std::string_view referral_ref,
                                                          std::string_view file_ref) {
    for (auto& a : open_api_attachments(referral_ref))
        if (a.file_ref == file_ref) return std::move(a);
    return std::nullopt;
}

std::optional<std::string> open_api_attachment_bytes(std::string_view referral_ref,
                                                     std::string_view file_ref) {
    const auto attachment = find_open_api_attachment(referral_ref, file_ref);
    if (!attachment) return std::nullopt;
    if (attachment->content_type == "application/pdf")
        return minimal_pdf(fmt::format("Referral form {}", attachment->file_ref));
    if (attachment->content_type == "image/png")
        return minimal_png(fmt::format("Requisition {}", attachment->file_ref));
    return fmt::format("Requisition {}\nA test attachment from ocean-sim; it holds no patient data.\n",
                       attachment->file_ref);
}

}  // namespace relay::ocean_sim
