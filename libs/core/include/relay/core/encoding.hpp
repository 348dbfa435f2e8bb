#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay {

/// Appends `s` as a JSON string literal (quotes and escapes included).
void append_json_string(std::string& out, std::string_view s);

/// `text` as HTML text or attribute value: & < > " ' escaped.
std::string html_escape(std::string_view text);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

/// RFC 4648 §5 without padding, as JWTs use it.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

std::string hex_encode(std::string_view bytes);

/// Decodes application/x-www-form-urlencoded components ('+' is a space); nullopt on bad escapes.
std::optional<std::string> form_url_decode(std::string_view text);
/// The decoded values of every `name` pair of an application/x-www-form-urlencoded query, in order (a
/// pair without '=' has the value ""); a value with a bad escape is nullopt.
std::vector<std::optional<std::string>> query_values(std::string_view query, std::string_view name);
/// The one value of `name` in such a query; nullopt when absent, repeated or badly escaped.
std::optional<std::string> single_query_value(std::string_view query, std::string_view name);

/// HMAC-SHA256 of `data` under `key`, 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// SHA-256 of `data`, 32 raw bytes.
std::string sha256(std::string_view data);

/// SHA-256 over several pieces without concatenating them (fingerprints of structured data).
class Sha256 {
   public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256& update(std::string_view data);
    /// A piece followed by a separator byte that cannot occur in text (0x1f), so ("ab","c") and
    /// ("a","bc") hash differently.
    Sha256& field(std::string_view data);
    /// 32 raw bytes; the hasher cannot be used afterwards.
    std::string finish();

   private:
    void* ctx_;
};

/// Constant-time equality (length is not secret).
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace relay
