// Start-up validation of the sharing policy section of the gateway
// configuration. Header-only so that the config loader (ehx_config) and the
// policy engine (ehx_policy) apply exactly the same rules without a link
// dependency between them.
#ifndef EHX_POLICY_POLICY_VALIDATE_H_
#define EHX_POLICY_POLICY_VALIDATE_H_

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange/v1/envelope.pb.h"

namespace ehx::policy {

// The Envelope payload field names that carry `type` (empty for
// RECORD_TYPE_UNSPECIFIED or an unknown value).
inline std::vector<std::string> PayloadFieldsOf(
    ehx::config::v1::RecordType type) {
  using namespace ehx::config::v1;  // NOLINT
  switch (type) {
    case RECORD_TYPE_CAF_NOTIFICATION:
      return {"case_opened", "caf_notification"};
    case RECORD_TYPE_ASSESSMENT:
      return {"assessment"};
    case RECORD_TYPE_PLAN:
      return {"plan"};
    case RECORD_TYPE_TAF_RECORD:
      return {"taf_meeting"};
    case RECORD_TYPE_STEP_UP_REFERRAL:
      return {"step_up_referral"};
    case RECORD_TYPE_REFERRAL_OUTCOME:
      return {"referral_outcome"};
    case RECORD_TYPE_STEP_DOWN:
      return {"step_down"};
    case RECORD_TYPE_CLOSURE:
      return {"case_closure"};
    case RECORD_TYPE_DOCUMENT:
      return {"document"};
    case RECORD_TYPE_IDENTITY_UPDATE:
      return {"person_update"};
    case RECORD_TYPE_EVIDENCE:
      return {"attendance_summary", "outcome_evidence"};
    case RECORD_TYPE_CONSENT_NOTICE:
      return {"consent"};
    default:
      return {};
  }
}

// Parses an AgencyRole value name; false for unknown names and
// AGENCY_ROLE_UNSPECIFIED.
inline bool ParseRole(const std::string& name,
                      ehx::config::v1::AgencyRole* out) {
  return ehx::config::v1::AgencyRole_Parse(name, out) &&
         *out != ehx::config::v1::AGENCY_ROLE_UNSPECIFIED;
}

// Resolves a mask path against Envelope. Returns an error description, or
// "" when the path is valid for one of `types`.
inline std::string CheckMaskPath(
    const std::string& path,
    const google::protobuf::RepeatedField<int>& types) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  if (path.empty()) return "empty path";
  bool payload_ok = false;
  for (int t : types) {
    for (const auto& f :
         PayloadFieldsOf(static_cast<ehx::config::v1::RecordType>(t))) {
      if (f == parts[0]) payload_ok = true;
    }
  }
  if (!payload_ok) {
    return absl::StrCat(
        "'", parts[0],
        "' is not the payload of any of the rule's record types");
  }
  const google::protobuf::Descriptor* d =
      ehx::exchange::v1::Envelope::descriptor();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (d == nullptr) {
      return absl::StrCat("'", parts[i - 1], "' is not a message field");
    }
    const auto* f = d->FindFieldByName(parts[i]);
    if (f == nullptr) {
      return absl::StrCat("no field '", parts[i], "' in ", d->full_name());
    }
    d = f->message_type();
  }
  return "";
}

// Validates config.policy() against the registered agencies. A missing
// policy section is NOT an error here (the engine then fails closed: no
// delivery, an alert and an audit entry); a present but wrong one is.
// Errors name the field path ("policy.rules[2].bases[0]: ...").
inline absl::Status ValidateSharingPolicy(
    const ehx::config::v1::GatewayConfig& c) {
  using namespace ehx::config::v1;  // NOLINT
  if (!c.has_policy()) return absl::OkStatus();
  const SharingPolicy& p = c.policy();
  auto bad = [](const std::string& path, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy.", path, ": ", what));
  };
  if (p.version().empty()) return bad("version", "required");
  std::set<std::string> agencies;
  for (const auto& a : c.agencies()) agencies.insert(a.id());
  std::set<std::string> granted;
  for (int i = 0; i < p.granted_agencies_size(); ++i) {
    const std::string path = absl::StrCat("granted_agencies[", i, "]");
    if (!agencies.count(p.granted_agencies(i)))
      return bad(path, "unknown agency");
    if (!granted.insert(p.granted_agencies(i)).second) {
      return bad(path, "duplicate agency");
    }
  }
  auto roles_ok =
      [&](const google::protobuf::RepeatedPtrField<std::string>& roles,
          const std::string& path, bool required,
          std::set<int>* out) -> absl::Status {
    if (required && roles.empty())
      return bad(path, "at least one role required");
    for (int j = 0; j < roles.size(); ++j) {
      AgencyRole r;
      if (!ParseRole(roles[j], &r)) {
        return bad(absl::StrCat(path, "[", j, "]"),
                   "unknown agency role (use an AgencyRole name such as "
                   "AGENCY_ROLE_SCHOOL)");
      }
      out->insert(r);
    }
    return absl::OkStatus();
  };
  auto types_ok = [&](const google::protobuf::RepeatedField<int>& types,
                      const std::string& path,
                      std::set<int>* out) -> absl::Status {
    if (types.empty()) return bad(path, "at least one record type required");
    for (int j = 0; j < types.size(); ++j) {
      if (types[j] == RECORD_TYPE_UNSPECIFIED ||
          !RecordType_IsValid(types[j])) {
        return bad(absl::StrCat(path, "[", j, "]"), "unknown record type");
      }
      out->insert(types[j]);
    }
    return absl::OkStatus();
  };
  std::set<std::string> ids;
  std::set<std::pair<int, int>> needs_mask;  // (role, type)
  std::set<int> needs_purpose;
  needs_mask.insert({AGENCY_ROLE_CSC_FRONT_DOOR, RECORD_TYPE_STEP_UP_REFERRAL});
  for (int i = 0; i < p.rules_size(); ++i) {
    const PolicyRule& r = p.rules(i);
    const std::string path = absl::StrCat("rules[", i, "]");
    if (r.id().empty()) return bad(path + ".id", "required");
    if (!ids.insert(r.id()).second)
      return bad(path + ".id", "duplicate rule id");
    if (r.id().rfind("builtin-", 0) == 0 ||
        r.id().rfind("fail-closed", 0) == 0 || r.id() == "default-deny") {
      return bad(path + ".id", "reserved rule id");
    }
    std::set<int> senders, recipients, types;
    absl::Status st =
        roles_ok(r.sender_roles(), path + ".sender_roles", false, &senders);
    if (!st.ok()) return st;
    st = roles_ok(r.recipient_roles(), path + ".recipient_roles", true,
                  &recipients);
    if (!st.ok()) return st;
    st = types_ok(r.record_types(), path + ".record_types", &types);
    if (!st.ok()) return st;
    if (r.bases().empty())
      return bad(path + ".bases", "at least one basis required");
    bool in_scope = false;
    for (int j = 0; j < r.bases_size(); ++j) {
      if (r.bases(j) == SHARING_BASIS_UNSPECIFIED ||
          !SharingBasis_IsValid(r.bases(j))) {
        return bad(absl::StrCat(path, ".bases[", j, "]"),
                   "unknown sharing basis");
      }
      in_scope |= r.bases(j) == SHARING_BASIS_CONSENT_IN_SCOPE;
    }
    for (int role : recipients) {
      for (int t : types) needs_mask.insert({role, t});
    }
    if (in_scope) needs_purpose.insert(types.begin(), types.end());
  }
  std::map<std::pair<int, int>, int> masked;
  for (int i = 0; i < p.masks_size(); ++i) {
    const FieldMaskRule& m = p.masks(i);
    const std::string path = absl::StrCat("masks[", i, "]");
    std::set<int> roles, types;
    absl::Status st =
        roles_ok(m.recipient_roles(), path + ".recipient_roles", true, &roles);
    if (!st.ok()) return st;
    st = types_ok(m.record_types(), path + ".record_types", &types);
    if (!st.ok()) return st;
    if (m.paths().empty())
      return bad(path + ".paths", "at least one path required");
    std::set<std::string> heads;
    for (int j = 0; j < m.paths_size(); ++j) {
      const std::string err = CheckMaskPath(m.paths(j), m.record_types());
      if (!err.empty()) return bad(absl::StrCat(path, ".paths[", j, "]"), err);
      heads.insert(std::string(m.paths(j).substr(0, m.paths(j).find('.'))));
    }
    for (int t : types) {
      for (const auto& f : PayloadFieldsOf(static_cast<RecordType>(t))) {
        if (!heads.count(f)) {
          return bad(path + ".paths",
                     absl::StrCat("no path for payload '", f, "' of ",
                                  RecordType_Name(static_cast<RecordType>(t))));
        }
      }
    }
    for (int role : roles) {
      for (int t : types) {
        auto [it, fresh] = masked.insert({{role, t}, i});
        if (!fresh) {
          return bad(
              path,
              absl::StrCat("duplicate mask for ",
                           AgencyRole_Name(static_cast<AgencyRole>(role)),
                           " / ", RecordType_Name(static_cast<RecordType>(t)),
                           " (also masks[", it->second, "])"));
        }
      }
    }
  }
  for (const auto& [role, t] : needs_mask) {
    if (!masked.count({role, t})) {
      return bad(
          "masks",
          absl::StrCat("no field mask for ",
                       AgencyRole_Name(static_cast<AgencyRole>(role)), " / ",
                       RecordType_Name(static_cast<RecordType>(t)),
                       ", which a rule allows"));
    }
  }
  std::set<int> purposed;
  for (int i = 0; i < p.purposes_size(); ++i) {
    const RecordPurposes& rp = p.purposes(i);
    const std::string path = absl::StrCat("purposes[", i, "]");
    if (rp.record_type() == RECORD_TYPE_UNSPECIFIED ||
        !RecordType_IsValid(rp.record_type())) {
      return bad(path + ".record_type", "unknown record type");
    }
    if (!purposed.insert(rp.record_type()).second) {
      return bad(path + ".record_type", "duplicate record type");
    }
    if (rp.purposes().empty())
      return bad(path + ".purposes", "at least one purpose required");
    for (int j = 0; j < rp.purposes_size(); ++j) {
      if (rp.purposes(j) == ehx::cases::v1::CONSENT_PURPOSE_UNSPECIFIED ||
          !ehx::cases::v1::ConsentPurpose_IsValid(rp.purposes(j))) {
        return bad(absl::StrCat(path, ".purposes[", j, "]"),
                   "unknown consent purpose");
      }
    }
  }
  for (int t : needs_purpose) {
    if (!purposed.count(t)) {
      return bad(
          "purposes",
          absl::StrCat(
              "no consent purposes for ",
              RecordType_Name(static_cast<RecordType>(t)),
              ", which a rule allows on SHARING_BASIS_CONSENT_IN_SCOPE"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ehx::policy

#endif  // EHX_POLICY_POLICY_VALIDATE_H_
