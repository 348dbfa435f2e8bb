// Patient Engagement: the decrypted OceanPatient + PtUpdate → PatientEngagement → FHIR R4 collection
// Bundle / hub JSON. The mapping and its [P] choices are in patient_engagement.hpp.
#include "relay/transform/patient_engagement.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "ocean_json.hpp"
#include "parse_json.hpp"
#include "relay/core/encoding.hpp"
#include "render_common.hpp"

namespace relay::transform {

const char* to_string(AnswerType type) {
    switch (type) {
        case AnswerType::kString:
            return "string";
        case AnswerType::kBoolean:
            return "boolean";
        case AnswerType::kInteger:
            return "integer";
        case AnswerType::kDecimal:
            return "decimal";
        case AnswerType::kDate:
            return "date";
    }
    return "string";
}

namespace {

namespace dom = simdjson::dom;
using detail::Path;
using detail::Reader;
using detail::Severity;

// ---------------------------------------------------------------------------------------------------
// parse

/// A scalar as a typed value; nullopt for null, "" and anything that is not a scalar (reported).
std::optional<TypedValue> typed(Reader& r, dom::element value, const Path& at) {
    std::string_view s;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    if (value.is_null()) return std::nullopt;
    if (value.get_string().get(s) == simdjson::SUCCESS) {
        if (s.empty()) return std::nullopt;
        return TypedValue{detail::is_fhir_date(s) ? AnswerType::kDate : AnswerType::kString, std::string(s)};
    }
    if (value.get_bool().get(b) == simdjson::SUCCESS)
        return TypedValue{AnswerType::kBoolean, b ? "true" : "false"};
    if (value.get_int64().get(i) == simdjson::SUCCESS) {
        if (i >= std::numeric_limits<std::int32_t>::min() && i <= std::numeric_limits<std::int32_t>::max()) {
            return TypedValue{AnswerType::kInteger, std::to_string(i)};
        }
        return TypedValue{AnswerType::kDecimal, std::to_string(i)};
    }
    if (value.get_uint64().get(u) == simdjson::SUCCESS)
        return TypedValue{AnswerType::kDecimal, std::to_string(u)};
    if (value.get_double().get(d) == simdjson::SUCCESS)
        return TypedValue{AnswerType::kDecimal, fmt::format("{}", d)};
    r.wrong_type(Severity::kWarning, at, "a string, number or boolean", value);
    return std::nullopt;
}

class EngagementReader {
   public:
    EngagementReader(ParseResult& scratch, const PatientEngagementContext& context)
        : r_(scratch), context_(context) {}

    std::optional<PatientEngagement> read(std::optional<dom::element> patient,
                                          std::optional<dom::element> update) {
        PatientEngagement& out = out_;
        out.site_number = context_.site_number;
        out.patient_ref = context_.patient_ref;
        out.session_id = context_.session_id;
        out.note_id = context_.note_id;
        if (!context_.authored.empty()) {
            // The caller's time, checked like a payload date (never echoed either).
            out.authored = detail::normalised_date_time(context_.authored);
            if (out.authored.empty()) {
                r_.warn(
                    "invalid-date", Path{nullptr, "context.authored", -1}, "not a FHIR dateTime; dropped");
            }
        }
        std::optional<dom::object> embedded_update;
        if (patient) {
            const auto object = r_.object(*patient, patient_, Severity::kFatal);
            if (!object) return std::nullopt;
            detail::PatientData data;
            detail::read_patient_data(r_, *object, patient_, data);
            if (r_.failed()) return std::nullopt;
            out.patient = std::move(data.patient);
            out.reason_for_visit = std::move(data.reason_for_visit);
            if (out.patient_ref.empty()) out.patient_ref = std::move(data.ref);
            if (out.site_number.empty()) out.site_number = std::move(data.site_number);
            if (!update) embedded_update = r_.object(*object, "ptUpdate", patient_);
        }
        if (update) {
            const auto object = r_.object(*update, update_, Severity::kFatal);
            if (!object) return std::nullopt;
            read_update(*object, update_);
        } else if (embedded_update) {
            read_update(*embedded_update, patient_.member("ptUpdate"));
        }
        if (r_.failed()) return std::nullopt;
        return std::move(out_);
    }

   private:
    void read_update(dom::object u, const Path& at) {
        PatientEngagement& out = out_;
        if (const auto note = r_.object(u, "progressNote", at, Severity::kFatal)) {
            const Path n_at = at.member("progressNote");
            ProgressNote& n = out.progress_note.emplace();
            n.title = detail::text_member(r_, *note, "title", n_at);
            n.text = detail::text_member(r_, *note, "text", n_at);
            n.note_type = detail::text_member(r_, *note, "noteType", n_at);
            if (n.title.empty() && n.text.empty() && n.note_type.empty()) out.progress_note.reset();
        }
        if (r_.failed()) return;

        const auto metadata = r_.object(u, "formMetadata", at);
        const Path metadata_at = at.member("formMetadata");
        if (const auto forms = r_.object(u, "completedForms", at, Severity::kFatal)) {
            const Path forms_at = at.member("completedForms");
            for (const auto form : *forms) {
                const Path form_at = forms_at.member(form.key);
                const auto items = r_.object(form.value, form_at, Severity::kFatal);
                if (!items) return;
                CompletedForm& f = out.forms.emplace_back();
                f.form_ref = form.key;
                std::optional<dom::object> hidden_flags;
                if (metadata) hidden_flags = r_.object(*metadata, form.key, metadata_at);
                for (const auto item : *items) {
                    CompletedFormItem& i = f.items.emplace_back();
                    i.item_ref = item.key;
                    answers(item.value, form_at.member(item.key), i.answers);
                    if (hidden_flags)
                        i.hidden = hidden(*hidden_flags, item.key, metadata_at.member(form.key));
                }
            }
        }
        if (r_.failed()) return;

        if (const auto updates = r_.object(u, "emrFieldUpdates", at)) {
            const Path updates_at = at.member("emrFieldUpdates");
            for (const auto field : *updates) {
                const Path f_at = updates_at.member(field.key);
                if (field.value.is_array() || field.value.is_object()) {
                    r_.wrong_type(Severity::kWarning, f_at, "a string, number or boolean", field.value);
                    continue;
                }
                if (auto value = typed(r_, field.value, f_at)) {
                    out.emr_field_updates.push_back(
                        EmrFieldUpdate{std::string(field.key), std::move(*value)});
                }
            }
        }
    }

    void answers(dom::element value, const Path& at, std::vector<TypedValue>& out) {
        dom::array list;
        if (value.get_array().get(list) == simdjson::SUCCESS) {
            long i = 0;
            for (const dom::element v : list) {
                if (auto t = typed(r_, v, at.at(i++))) out.push_back(std::move(*t));
            }
            return;
        }
        if (auto t = typed(r_, value, at)) out.push_back(std::move(*t));
    }

    bool hidden(dom::object flags, std::string_view item_ref, const Path& at) {
        const auto flag = r_.object(flags, item_ref, at);
        if (!flag) return false;
        const auto value = Reader::member(*flag, "hidden");
        if (!value) return false;
        bool b = false;
        std::string_view s;
        if (value->get_bool().get(b) == simdjson::SUCCESS) return b;
        if (value->get_string().get(s) == simdjson::SUCCESS) return s == "true";
        r_.wrong_type(Severity::kWarning, at.member(item_ref).member("hidden"), "a boolean", *value);
        return false;
    }

    Reader r_;
    const PatientEngagementContext& context_;
    const Path patient_{nullptr, "OceanPatient", -1};
    const Path update_{nullptr, "PtUpdate", -1};
    PatientEngagement out_;
};

}  // namespace

PatientEngagementResult parse_patient_engagement(std::string_view patient_json,
                                                 std::string_view pt_update_json,
                                                 const PatientEngagementContext& context) {
    PatientEngagementResult result;
    if (patient_json.empty() && pt_update_json.empty()) {
        result.error = ParseError{"no-data", "", "neither the patient nor the patient update was given"};
        return result;
    }
    simdjson::dom::parser patient_parser;
    simdjson::dom::parser update_parser;
    std::optional<dom::element> patient;
    std::optional<dom::element> update;
    const auto parse = [&](simdjson::dom::parser& parser,
                           std::string_view text,
                           const char* name,
                           std::optional<dom::element>& out) {
        if (text.empty()) return true;
        dom::element root;
        const auto error = parser.parse(text.data(), text.size()).get(root);
        if (error != simdjson::SUCCESS) {
            result.error = ParseError{
                "invalid-json",
                name,
                fmt::format("the {} is not well-formed JSON ({})", name, simdjson::error_message(error))};
            return false;
        }
        out = root;
        return true;
    };
    if (!parse(patient_parser, patient_json, "OceanPatient", patient)) return result;
    if (!parse(update_parser, pt_update_json, "PtUpdate", update)) return result;
    ParseResult scratch;
    try {
        auto engagement = EngagementReader(scratch, context).read(patient, update);
        if (!scratch.error) result.engagement = std::move(engagement);
    } catch (const std::exception&) {
        scratch.error = ParseError{"internal", "", "an internal error stopped the parse"};
    }
    result.error = std::move(scratch.error);
    result.warnings = std::move(scratch.warnings);
    if (result.error) result.engagement.reset();
    return result;
}

// ---------------------------------------------------------------------------------------------------
// render

namespace {

using namespace detail;

constexpr std::string_view kVisibilityExt =
    "https://ocean.cognisantmd.com/svc/fhir/v1/StructureDefinition/ext-ocean-eform-item-visibility";

std::string urn(std::string_view uuid) {
    return fmt::format("urn:uuid:{}", uuid);
}

/// Everything but RFC 3986's unreserved characters percent-encoded (a form ref inside a canonical).
std::string url_segment(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += fmt::format("%{:02X}", u);
        }
    }
    return out;
}

std::size_t engagement_bytes(const PatientEngagement& e) {
    std::size_t b = 8192 + e.reason_for_visit.size();
    if (e.progress_note) b += 2 * (e.progress_note->text.size() + e.progress_note->title.size());
    for (const auto& f : e.forms) {
        b += 512 + f.form_ref.size();
        for (const auto& i : f.items) {
            b += 64 + i.item_ref.size();
            for (const auto& a : i.answers) b += 32 + a.value.size();
        }
    }
    for (const auto& u : e.emr_field_updates) b += 64 + u.field.size() + u.value.value.size();
    return b;
}

class EngagementBundleWriter {
   public:
    EngagementBundleWriter(const PatientEngagement& e,
                           const PatientEngagementFhirOptions& o,
                           json::storage_ptr sp)
        : e_(e), o_(o), sp_(std::move(sp)) {
        key_ = fmt::format("{}/{}/{}", e_.site_number, e_.patient_ref, e_.session_id);
        patient_url_ = urn(name_uuid(key_, "PE/Patient"));
    }

    json::value write() {
        json::value root(json::object_kind, sp_);
        json::object& bundle = root.get_object();
        bundle["resourceType"] = "Bundle";
        if (!e_.session_id.empty()) session_identifier(set_object(bundle, "identifier"));
        bundle["type"] = "collection";
        if (is_fhir_instant(e_.authored)) bundle["timestamp"] = e_.authored;
        json::array& entries = set_array(bundle, "entry");
        patient(start(entries, patient_url_, "Patient"));
        std::vector<std::string> form_urls;
        for (std::size_t i = 0; i < e_.forms.size(); ++i) {
            form_urls.push_back(urn(name_uuid(key_, "PE/QuestionnaireResponse", position(i))));
            questionnaire_response(start(entries, form_urls.back(), "QuestionnaireResponse"), e_.forms[i]);
        }
        if (e_.progress_note) {
            document(start(entries, urn(name_uuid(key_, "PE/DocumentReference")), "DocumentReference"),
                     *e_.progress_note,
                     form_urls);
        }
        return root;
    }

   private:
    static std::string position(std::size_t i) {
        std::string p("#");
        p.append(std::to_string(i));
        return p;
    }

    static json::object& start(json::array& entries, const std::string& full_url, std::string_view type) {
        json::object& entry = add_object(entries);
        entry["fullUrl"] = full_url;
        json::object& resource = set_object(entry, "resource");
        resource["resourceType"] = type;
        return resource;
    }

    void session_identifier(json::object& id) const {
        id["system"] = o_.identifier_base + "ocean-session-id";
        id["value"] = e_.session_id;
    }

    void patient(json::object& out) {
        fhir_patient(out, e_.patient);
        if (e_.patient_ref.empty()) return;
        json::value& ids = out["identifier"];
        if (!ids.is_array()) ids.emplace_array();
        json::object& id = add_object(ids.get_array());
        id["system"] =
            e_.site_number.empty()
                ? o_.identifier_base + "patient-ref"
                : fmt::format("{}sites/{}/patient-ref", o_.identifier_base, url_segment(e_.site_number));
        id["value"] = e_.patient_ref;
    }

    void questionnaire_response(json::object& out, const CompletedForm& f) {
        if (!e_.session_id.empty()) session_identifier(set_object(out, "identifier"));
        if (!f.form_ref.empty()) out["questionnaire"] = o_.questionnaire_base + url_segment(f.form_ref);
        out["status"] = "completed";
        set_object(out, "subject")["reference"] = patient_url_;
        put(out, "authored", e_.authored);
        json::array* items = nullptr;
        for (const auto& item : f.items) {
            if (item.hidden && !o_.include_hidden_items) continue;
            if (items == nullptr) items = &set_array(out, "item");
            json::object& o = add_object(*items);
            if (item.hidden) {
                json::object& ext = add_object(set_array(o, "extension"));
                ext["url"] = kVisibilityExt;
                ext["valueString"] = "hidden";
            }
            // linkId is 1..1 and FHIR has no empty strings: an empty item ref (a "" key) is written as
            // data absent rather than dropped.
            if (item.item_ref.empty()) {
                json::object& ext = add_object(set_array(set_object(o, "_linkId"), "extension"));
                ext["url"] = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
                ext["valueCode"] = "unknown";
            } else {
                o["linkId"] = item.item_ref;
            }
            if (item.answers.empty()) continue;
            json::array& answers = set_array(o, "answer");
            for (const auto& a : item.answers) answer(add_object(answers), a);
        }
    }

    static void answer(json::object& out, const TypedValue& a) {
        switch (a.type) {
            case AnswerType::kBoolean:
                if (a.value == "true" || a.value == "false") {
                    out["valueBoolean"] = a.value == "true";
                    return;
                }
                break;
            case AnswerType::kInteger: {
                std::int32_t i = 0;
                const auto [end, ec] = std::from_chars(a.value.data(), a.value.data() + a.value.size(), i);
                if (ec == std::errc() && end == a.value.data() + a.value.size()) {
                    out["valueInteger"] = i;
                    return;
                }
                break;
            }
            case AnswerType::kDecimal:
                if (auto number = decimal(a.value)) {
                    out["valueDecimal"] = *number;
                    return;
                }
                break;
            case AnswerType::kDate:
                if (is_fhir_date(a.value)) {
                    out["valueDate"] = a.value;
                    return;
                }
                break;
            case AnswerType::kString:
                break;
        }
        // A hand-built value whose text does not fit its type: kept as the text it is.
        out["valueString"] = a.value;
    }

    /// A JSON number for a decimal's text: integers exactly (64 bits), others as a double; nullopt when
    /// the text is not a JSON number.
    static std::optional<json::value> decimal(const std::string& text) {
        const char* first = text.data();
        const char* last = text.data() + text.size();
        if (text.find_first_of(".eE") == std::string::npos) {
            std::int64_t i = 0;
            std::uint64_t u = 0;
            if (auto [end, ec] = std::from_chars(first, last, i); ec == std::errc() && end == last)
                return json::value(i);
            if (auto [end, ec] = std::from_chars(first, last, u); ec == std::errc() && end == last)
                return json::value(u);
        }
        double d = 0;
        const auto [end, ec] = std::from_chars(first, last, d);
        if (ec != std::errc() || end != last || !std::isfinite(d) || text.front() == '+') return std::nullopt;
        return json::value(d);
    }

    void document(json::object& out, const ProgressNote& n, const std::vector<std::string>& form_urls) {
        if (!e_.session_id.empty()) session_identifier(add_object(set_array(out, "identifier")));
        out["status"] = "current";
        if (!n.note_type.empty()) set_object(out, "type")["text"] = n.note_type;
        set_object(out, "subject")["reference"] = patient_url_;
        if (is_fhir_instant(e_.authored)) out["date"] = e_.authored;
        put(out, "description", n.title);
        json::object& attachment = set_object(add_object(set_array(out, "content")), "attachment");
        attachment["contentType"] = "text/plain; charset=utf-8";
        put(attachment, "data", relay::base64_encode(n.text));
        put(attachment, "title", n.title);
        if (is_fhir_date_time(e_.authored)) attachment["creation"] = e_.authored;
        if (!form_urls.empty()) {
            json::array& related = set_array(set_object(out, "context"), "related");
            for (const auto& url : form_urls) add_object(related)["reference"] = url;
        }
    }

    const PatientEngagement& e_;
    const PatientEngagementFhirOptions& o_;
    json::storage_ptr sp_;
    std::string key_;
    std::string patient_url_;
};

constexpr std::string_view kHubFormat = "ocean-relay.hub-patient-engagement.v1";

void typed_value(json::object& out, const TypedValue& v) {
    out["type"] = to_string(v.type);
    out["value"] = v.value;
}

json::value build_hub(const PatientEngagement& e, json::storage_ptr sp) {
    json::value root(json::object_kind, std::move(sp));
    json::object& out = root.get_object();
    out["format"] = kHubFormat;
    put_always(out, "site_number", e.site_number);
    put_always(out, "patient_ref", e.patient_ref);
    put_always(out, "session_id", e.session_id);
    put_always(out, "note_id", e.note_id);
    put_always(out, "authored", e.authored);
    hub_patient(set_object(out, "patient"), e.patient);
    put_always(out, "reason_for_visit", e.reason_for_visit);
    if (e.progress_note) {
        json::object& n = set_object(out, "progress_note");
        put_always(n, "title", e.progress_note->title);
        put_always(n, "text", e.progress_note->text);
        put_always(n, "note_type", e.progress_note->note_type);
    } else {
        out["progress_note"] = nullptr;
    }
    json::array& forms = set_array(out, "forms");
    for (const auto& f : e.forms) {
        json::object& form = add_object(forms);
        put_always(form, "form_ref", f.form_ref);
        json::array& items = set_array(form, "items");
        for (const auto& i : f.items) {
            json::object& item = add_object(items);
            put_always(item, "item_ref", i.item_ref);
            item["hidden"] = i.hidden;
            json::array& answers = set_array(item, "answers");
            for (const auto& a : i.answers) typed_value(add_object(answers), a);
        }
    }
    json::array& updates = set_array(out, "emr_field_updates");
    for (const auto& u : e.emr_field_updates) {
        json::object& o = add_object(updates);
        put_always(o, "field", u.field);
        typed_value(o, u.value);
    }
    return root;
}

}  // namespace

std::string render_patient_engagement_fhir_r4(const PatientEngagement& engagement,
                                              const PatientEngagementFhirOptions& options) {
    const std::size_t hint = engagement_bytes(engagement);
    Arena arena(hint * 2);
    const json::value root = EngagementBundleWriter(engagement, options, arena.storage()).write();
    return serialize(root, hint);
}

std::string render_patient_engagement_hub_json(const PatientEngagement& engagement) {
    const std::size_t hint = engagement_bytes(engagement);
    Arena arena(hint * 2);
    const json::value root = build_hub(engagement, arena.storage());
    return serialize(root, hint);
}

}  // namespace relay::transform
