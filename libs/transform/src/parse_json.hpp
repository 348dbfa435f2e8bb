// Private to the parser: tolerant, PHI-free access to simdjson DOM values.
//
// Every reader takes the location of the value as a Path, a chain of stack frames that is turned into
// text ("Bundle.entry[3].resource.subject") only when a problem is reported, so the happy path formats
// nothing. Problems are either fatal (the first one becomes ParseResult::error) or tolerated (a warning
// and the value treated as absent). Messages are fixed texts: a payload value never enters them.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/transform/referral.hpp"

namespace relay::transform::detail {

namespace dom = simdjson::dom;

struct Path {
    const Path* parent = nullptr;
    std::string_view name;
    long index = -1;  ///< >= 0: this is element `index` of the array `name`

    [[nodiscard]] Path member(std::string_view key) const { return Path{this, key, -1}; }
    /// Element `i` of this path, which names an array member.
    [[nodiscard]] Path at(long i) const { return Path{parent, name, i}; }

    void append_to(std::string& out) const {
        if (parent != nullptr) {
            parent->append_to(out);
            out += '.';
        }
        out += name;
        if (index >= 0) {
            out += '[';
            out += std::to_string(index);
            out += ']';
        }
    }
    [[nodiscard]] std::string str() const {
        std::string out;
        append_to(out);
        return out;
    }
};

enum class Severity { kWarning, kFatal };

inline constexpr std::string_view kUnexpectedType = "unexpected-type";

inline const char* json_type_name(dom::element_type type) {
    switch (type) {
        case dom::element_type::ARRAY:
            return "an array";
        case dom::element_type::OBJECT:
            return "an object";
        case dom::element_type::INT64:
        case dom::element_type::UINT64:
        case dom::element_type::DOUBLE:
            return "a number";
        case dom::element_type::STRING:
            return "a string";
        case dom::element_type::BOOL:
            return "a boolean";
        case dom::element_type::NULL_VALUE:
            return "null";
    }
    return "a value";
}

class Reader {
   public:
    explicit Reader(ParseResult& result) : result_(result) {}

    [[nodiscard]] bool failed() const { return result_.error.has_value(); }

    void fail(std::string_view code, const Path& at, std::string message) {
        if (result_.error) return;  // the first problem is the one worth reporting
        result_.error = ParseError{std::string(code), at.str(), std::move(message)};
    }

    void warn(std::string_view code, const Path& at, std::string message) {
        result_.warnings.push_back(ParseWarning{std::string(code), at.str(), std::move(message)});
    }

    void report(Severity severity, std::string_view code, const Path& at, std::string message) {
        if (severity == Severity::kFatal) {
            fail(code, at, std::move(message));
        } else {
            warn(code, at, std::move(message));
        }
    }

    void wrong_type(Severity severity, const Path& at, const char* expected, dom::element actual) {
        std::string message = "expected ";
        message += expected;
        message += ", found ";
        message += json_type_name(actual.type());
        report(severity, kUnexpectedType, at, std::move(message));
    }

    /// The member `key` of `o` if present (null counts as absent: some writers emit it for "no value").
    static std::optional<dom::element> member(dom::object o, std::string_view key) {
        dom::element value;
        if (o.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
        if (value.type() == dom::element_type::NULL_VALUE) return std::nullopt;
        return value;
    }

    std::string_view string(dom::element value, const Path& at, Severity severity = Severity::kWarning) {
        std::string_view out;
        if (value.get_string().get(out) != simdjson::SUCCESS) {
            wrong_type(severity, at, "a string", value);
            return {};
        }
        return out;
    }

    std::string_view string(dom::object o,
                            std::string_view key,
                            const Path& parent,
                            Severity severity = Severity::kWarning) {
        const auto value = member(o, key);
        if (!value) return {};
        return string(*value, parent.member(key), severity);
    }

    std::optional<dom::object> object(dom::element value,
                                      const Path& at,
                                      Severity severity = Severity::kWarning) {
        dom::object out;
        if (value.get_object().get(out) != simdjson::SUCCESS) {
            wrong_type(severity, at, "an object", value);
            return std::nullopt;
        }
        return out;
    }

    std::optional<dom::object> object(dom::object o,
                                      std::string_view key,
                                      const Path& parent,
                                      Severity severity = Severity::kWarning) {
        const auto value = member(o, key);
        if (!value) return std::nullopt;
        return object(*value, parent.member(key), severity);
    }

    std::optional<dom::array> array(dom::object o,
                                    std::string_view key,
                                    const Path& parent,
                                    Severity severity = Severity::kWarning) {
        const auto value = member(o, key);
        if (!value) return std::nullopt;
        dom::array out;
        if (value->get_array().get(out) != simdjson::SUCCESS) {
            wrong_type(severity, parent.member(key), "an array", *value);
            return std::nullopt;
        }
        return out;
    }

    /// Calls fn(object, path) for every object in the array `key`; an element of another type is
    /// reported and skipped. `single_ok`: R4 makes some of these 0..1 on some resources
    /// (QuestionnaireResponse.identifier), so a lone object is accepted as a one-element list.
    template <typename Fn>
    void each_object(dom::object o,
                     std::string_view key,
                     const Path& parent,
                     Fn&& fn,
                     Severity severity = Severity::kWarning,
                     bool single_ok = false) {
        const auto value = member(o, key);
        if (!value) return;
        const Path at = parent.member(key);
        dom::object single;
        if (single_ok && value->get_object().get(single) == simdjson::SUCCESS) {
            fn(single, at);
            return;
        }
        dom::array items;
        if (value->get_array().get(items) != simdjson::SUCCESS) {
            wrong_type(severity, at, single_ok ? "an array or an object" : "an array", *value);
            return;
        }
        long i = 0;
        for (dom::element item : items) {
            const Path item_at = at.at(i++);
            if (const auto obj = object(item, item_at, severity)) fn(*obj, item_at);
        }
    }

    /// Calls fn(string) for every string in the array `key`.
    template <typename Fn>
    void each_string(dom::object o, std::string_view key, const Path& parent, Fn&& fn) {
        const auto items = array(o, key, parent);
        if (!items) return;
        const Path at = parent.member(key);
        long i = 0;
        for (dom::element item : *items) {
            const std::string_view s = string(item, at.at(i++));
            if (!s.empty()) fn(s);
        }
    }

    /// The first object of the array `key` (or a lone object where `single_ok`).
    std::optional<dom::object> first_object(dom::object o,
                                            std::string_view key,
                                            const Path& parent,
                                            Path& first_at,
                                            Severity severity = Severity::kWarning) {
        const auto items = array(o, key, parent, severity);
        if (!items) return std::nullopt;
        for (dom::element item : *items) {
            first_at = Path{&parent, key, 0};
            return object(item, first_at, severity);
        }
        return std::nullopt;
    }

   private:
    ParseResult& result_;
};

}  // namespace relay::transform::detail
