// html_to_text: the plain text of Ocean's HTML note (ServiceRequest.note.text).
//
// Ocean's notes are small fragments of inline HTML (<b>, <br>, &nbsp;), not documents, so a single pass
// over the bytes is enough: no DOM, no allocation beyond the output.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "relay/transform/referral.hpp"

namespace relay::transform {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Elements a browser lays out on their own lines: their start and end tags break the line (once).
bool is_block(std::string_view name) {
    static constexpr std::array<std::string_view, 22> kBlocks = {
        "p",  "div", "li", "ul", "ol",         "h1",    "h2",      "h3",      "h4",     "h5",     "h6",
        "tr", "dl",  "dt", "dd", "blockquote", "table", "section", "article", "header", "footer", "pre"};
    for (std::string_view block : kBlocks) {
        if (iequals(name, block)) return true;
    }
    return false;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    // NUL, surrogates and out-of-range code points are not characters: the replacement character.
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Collects text while collapsing whitespace: a run of spaces becomes one space, and spaces next to a
// line break or at either end disappear.
class TextOut {
   public:
    explicit TextOut(std::size_t reserve) { out_.reserve(reserve); }

    void space() { pending_space_ = true; }

    void text(std::string_view s) {
        if (s.empty()) return;
        if (pending_space_ && !out_.empty() && out_.back() != '\n') out_ += ' ';
        pending_space_ = false;
        out_ += s;
    }

    void code_point(std::uint32_t cp) {
        if (pending_space_ && !out_.empty() && out_.back() != '\n') out_ += ' ';
        pending_space_ = false;
        append_utf8(out_, cp);
    }

    /// <br>: always a new line, so that "<br><br>" keeps its empty line.
    void hard_break() {
        pending_space_ = false;
        out_ += '\n';
    }

    /// A block boundary: a new line unless we are already at the start of one.
    void soft_break() {
        pending_space_ = false;
        if (!out_.empty() && out_.back() != '\n') out_ += '\n';
    }

    std::string finish() {
        std::size_t begin = 0;
        while (begin < out_.size() && out_[begin] == '\n') ++begin;
        std::size_t end = out_.size();
        while (end > begin && out_[end - 1] == '\n') --end;
        if (begin == 0 && end == out_.size()) return std::move(out_);
        return out_.substr(begin, end - begin);
    }

   private:
    std::string out_;
    bool pending_space_ = false;
};

// Decodes the entity starting at html[i] == '&'. Returns the number of bytes consumed, 0 if it is not
// an entity we know (the '&' is then literal text, as browsers treat it).
std::size_t decode_entity(std::string_view html, std::size_t i, TextOut& out) {
    const std::size_t semi = html.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 32) return 0;
    const std::string_view name = html.substr(i + 1, semi - i - 1);
    const std::size_t consumed = semi - i + 1;
    if (name.size() >= 2 && name[0] == '#') {
        std::uint32_t cp = 0;
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string_view digits = name.substr(hex ? 2 : 1);
        if (digits.empty()) return 0;
        for (char c : digits) {
            std::uint32_t d = 0;
            if (c >= '0' && c <= '9') {
                d = static_cast<std::uint32_t>(c - '0');
            } else if (hex && lower(c) >= 'a' && lower(c) <= 'f') {
                d = static_cast<std::uint32_t>(lower(c) - 'a' + 10);
            } else {
                return 0;
            }
            cp = cp * (hex ? 16 : 10) + d;
            if (cp > 0x10FFFF) cp = 0x110000;  // saturate: becomes U+FFFD, no overflow
        }
        // A numeric non-breaking space is a space for plain text, as &nbsp; is.
        if (cp == 0xA0) {
            out.space();
        } else {
            out.code_point(cp);
        }
        return consumed;
    }
    if (name == "nbsp") {
        out.space();
    } else if (name == "amp") {
        out.text("&");
    } else if (name == "lt") {
        out.text("<");
    } else if (name == "gt") {
        out.text(">");
    } else if (name == "quot") {
        out.text("\"");
    } else if (name == "apos") {
        out.text("'");
    } else {
        return 0;
    }
    return consumed;
}

}  // namespace

std::string html_to_text(std::string_view html) {
    TextOut out(html.size());
    std::size_t i = 0;
    std::size_t text_begin = 0;  // start of the pending run of literal text
    auto flush_text = [&](std::size_t end) {
        // Literal text with its whitespace collapsed, word by word.
        std::size_t k = text_begin;
        while (k < end) {
            if (is_space(html[k])) {
                out.space();
                ++k;
                continue;
            }
            std::size_t word_end = k;
            while (word_end < end && !is_space(html[word_end])) ++word_end;
            out.text(html.substr(k, word_end - k));
            k = word_end;
        }
    };

    while (i < html.size()) {
        const char c = html[i];
        if (c == '&') {
            flush_text(i);
            const std::size_t n = decode_entity(html, i, out);
            if (n == 0) {
                out.text("&");
                i += 1;
            } else {
                i += n;
            }
            text_begin = i;
            continue;
        }
        if (c != '<' || i + 1 >= html.size()) {
            ++i;
            continue;
        }
        const char next = html[i + 1];
        // "a < b" is text: only '<' followed by a name, '/', '!' or '?' opens a tag.
        if (!is_alpha(next) && next != '/' && next != '!' && next != '?') {
            ++i;
            continue;
        }
        if (html.substr(i, 4) == "<!--") {
            const std::size_t end = html.find("-->", i + 4);
            flush_text(i);
            i = end == std::string_view::npos ? html.size() : end + 3;
            text_begin = i;
            continue;
        }
        const std::size_t close = html.find('>', i + 1);
        if (close == std::string_view::npos) {
            ++i;  // an unterminated '<': literal text
            continue;
        }
        flush_text(i);
        std::size_t name_begin = i + 1;
        const bool end_tag = html[name_begin] == '/';
        if (end_tag) ++name_begin;
        std::size_t name_end = name_begin;
        while (name_end < close &&
               (is_alpha(html[name_end]) || (html[name_end] >= '0' && html[name_end] <= '9')))
            ++name_end;
        const std::string_view name = html.substr(name_begin, name_end - name_begin);
        i = close + 1;
        if (iequals(name, "br")) {
            out.hard_break();
        } else if (!end_tag && (iequals(name, "script") || iequals(name, "style"))) {
            // Their content is code, not text.
            const std::string_view closing = iequals(name, "script") ? "</script" : "</style";
            std::size_t k = i;
            while (k < html.size() && !iequals(html.substr(k, closing.size()), closing)) ++k;
            const std::size_t end = html.find('>', k);
            i = end == std::string_view::npos ? html.size() : end + 1;
        } else if (is_block(name) || iequals(name, "hr")) {
            out.soft_break();
        } else if (iequals(name, "td") || iequals(name, "th")) {
            out.space();
        }
        text_begin = i;
    }
    flush_text(html.size());
    return out.finish();
}

}  // namespace relay::transform
