#include "policy/policy_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policy/policy_validate.h"

namespace ehx::policy {

using ehx::cases::v1::ConsentState;
using ehx::exchange::v1::Envelope;
using ehx::record::v1::CaseRecord;
namespace pb = google::protobuf;
namespace cfg = ehx::config::v1;

// A compiled field mask: a node per field; a leaf keeps the whole field.
class MaskTree {
 public:
  void Add(const pb::Descriptor* root, const std::string& path) {
    MaskTree* node = this;
    const pb::Descriptor* d = root;
    for (const auto& part : absl::StrSplit(path, '.')) {
      if (d == nullptr) return;  // validated before; unreachable
      const pb::FieldDescriptor* f = d->FindFieldByName(std::string(part));
      if (f == nullptr) return;  // validated before; unreachable
      auto it = node->children_.find(f);
      if (it != node->children_.end() && it->second->whole_) return;
      if (it == node->children_.end()) {
        it = node->children_.emplace(f, std::make_unique<MaskTree>()).first;
      }
      node = it->second.get();
      d = f->message_type();
    }
    node->whole_ = true;
    node->children_.clear();
  }

  // The node for field `f`, or null when the mask does not name it.
  const MaskTree* Child(const pb::FieldDescriptor* f) const {
    auto it = children_.find(f);
    return it == children_.end() ? nullptr : it->second.get();
  }
  bool whole() const { return whole_; }

  // Clears every field of `m` outside this node.
  void Prune(pb::Message* m) const {
    const pb::Reflection* r = m->GetReflection();
    r->MutableUnknownFields(m)->Clear();
    std::vector<const pb::FieldDescriptor*> set;
    r->ListFields(*m, &set);
    for (const auto* f : set) {
      auto it = children_.find(f);
      if (it == children_.end()) {
        r->ClearField(m, f);
        continue;
      }
      if (it->second->whole_) continue;
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(*m, f); ++i) {
          it->second->Prune(r->MutableRepeatedMessage(m, f, i));
        }
      } else {
        it->second->Prune(r->MutableMessage(m, f));
      }
    }
  }

 private:
  std::map<const pb::FieldDescriptor*, std::unique_ptr<MaskTree>> children_;
  bool whole_ = false;
};

PolicyEngine::~PolicyEngine() = default;

std::unique_ptr<PolicyEngine> PolicyEngine::Create(
    const cfg::GatewayConfig& config) {
  std::unique_ptr<PolicyEngine> e(new PolicyEngine());
  if (!config.has_policy()) {
    e->error_ = "no policy section in the configuration";
    return e;
  }
  absl::Status st = ValidateSharingPolicy(config);
  if (!st.ok()) {
    e->error_ = std::string(st.message());
    return e;
  }
  const cfg::SharingPolicy& p = config.policy();
  e->version_ = p.version();
  std::set<std::string> granted(p.granted_agencies().begin(),
                                p.granted_agencies().end());
  for (const auto& a : config.agencies()) {
    e->agencies_[a.id()] =
        AgencyInfo{a.role(), a.decommissioned(), granted.count(a.id()) > 0};
  }
  for (const auto& r : p.rules()) {
    Rule rule;
    rule.id = r.id();
    for (const auto& s : r.sender_roles()) {
      AgencyRole role;
      if (ParseRole(s, &role)) rule.sender_roles.insert(role);
    }
    rule.bases.insert(r.bases().begin(), r.bases().end());
    rule.party_required = r.party_required();
    for (const auto& s : r.recipient_roles()) {
      AgencyRole role;
      if (!ParseRole(s, &role)) continue;
      for (int t : r.record_types()) e->rules_[{role, t}].push_back(rule);
    }
  }
  for (const auto& m : p.masks()) {
    for (const auto& s : m.recipient_roles()) {
      AgencyRole role;
      if (!ParseRole(s, &role)) continue;
      for (int t : m.record_types()) {
        auto tree = std::make_unique<MaskTree>();
        for (const auto& path : m.paths()) {
          // Only the paths for this record type's payloads.
          const std::string head = path.substr(0, path.find('.'));
          for (const auto& f : PayloadFieldsOf(static_cast<RecordType>(t))) {
            if (f == head) tree->Add(Envelope::descriptor(), path);
          }
        }
        e->masks_[{role, t}] = std::move(tree);
      }
    }
  }
  for (const auto& rp : p.purposes()) {
    e->purposes_[rp.record_type()].insert(rp.purposes().begin(),
                                          rp.purposes().end());
  }
  return e;
}

AgencyRole PolicyEngine::RoleOf(const std::string& agency) const {
  auto it = agencies_.find(agency);
  return it == agencies_.end() ? cfg::AGENCY_ROLE_UNSPECIFIED : it->second.role;
}

Decision PolicyEngine::Decide(const Request& req) const {
  Decision d;
  d.record_type = req.record_type;
  d.basis = req.basis;
  d.party = req.party;
  auto refuse = [&d](const char* rule, bool failure) {
    d.share = false;
    d.rule_id = rule;
    d.failure = failure;
    return d;
  };
  if (!ok()) return refuse(kRuleFailClosed, true);
  if (req.record_type == cfg::RECORD_TYPE_UNSPECIFIED ||
      !cfg::RecordType_IsValid(req.record_type)) {
    return refuse(kRuleUnknownRecordType, true);
  }
  auto sender = agencies_.find(req.sender);
  if (sender == agencies_.end()) return refuse(kRuleUnknownSender, true);
  auto recipient = agencies_.find(req.recipient);
  if (recipient == agencies_.end()) return refuse(kRuleUnknownRecipient, true);
  d.recipient_role = recipient->second.role;
  if (req.basis == cfg::SHARING_BASIS_UNSPECIFIED ||
      !cfg::SharingBasis_IsValid(req.basis)) {
    return refuse(kRuleUnknownBasis, true);
  }
  if (recipient->second.decommissioned)
    return refuse(kRuleDecommissioned, false);
  if (!recipient->second.granted) return refuse(kRuleNotGranted, false);
  const std::pair<int, int> key{recipient->second.role, req.record_type};
  auto allow = [&](const std::string& rule) {
    auto m = masks_.find(key);
    if (m == masks_.end()) return refuse(kRuleFailClosed, true);  // validated
    d.share = true;
    d.rule_id = rule;
    d.mask = m->second.get();
    return d;
  };
  // Consent never blocks a significant-harm referral to the front door.
  if (req.record_type == cfg::RECORD_TYPE_STEP_UP_REFERRAL &&
      req.basis == cfg::SHARING_BASIS_SIGNIFICANT_HARM &&
      recipient->second.role == cfg::AGENCY_ROLE_CSC_FRONT_DOOR) {
    return allow(kRuleSignificantHarmFrontDoor);
  }
  auto rules = rules_.find(key);
  if (rules != rules_.end()) {
    for (const Rule& r : rules->second) {
      if (!r.sender_roles.empty() &&
          !r.sender_roles.count(sender->second.role)) {
        continue;
      }
      if (!r.bases.count(req.basis)) continue;
      if (r.party_required && !req.party) continue;
      return allow(r.id);
    }
  }
  return refuse(kRuleDefaultDeny, false);
}

RecordType PolicyEngine::RecordTypeOf(ehx::exchange::v1::EventType type) {
  using namespace ehx::exchange::v1;  // NOLINT
  switch (type) {
    case EVENT_TYPE_CASE_OPENED:
    case EVENT_TYPE_CAF_NOTIFICATION:
      return cfg::RECORD_TYPE_CAF_NOTIFICATION;
    case EVENT_TYPE_ASSESSMENT:
      return cfg::RECORD_TYPE_ASSESSMENT;
    case EVENT_TYPE_PLAN_UPDATED:
      return cfg::RECORD_TYPE_PLAN;
    case EVENT_TYPE_TAF_MEETING:
      return cfg::RECORD_TYPE_TAF_RECORD;
    case EVENT_TYPE_STEP_UP_REFERRAL:
      return cfg::RECORD_TYPE_STEP_UP_REFERRAL;
    case EVENT_TYPE_REFERRAL_OUTCOME:
      return cfg::RECORD_TYPE_REFERRAL_OUTCOME;
    case EVENT_TYPE_STEP_DOWN:
      return cfg::RECORD_TYPE_STEP_DOWN;
    case EVENT_TYPE_CASE_CLOSED:
      return cfg::RECORD_TYPE_CLOSURE;
    case EVENT_TYPE_DOCUMENT_ATTACHED:
      return cfg::RECORD_TYPE_DOCUMENT;
    case EVENT_TYPE_PERSON_UPDATED:
      return cfg::RECORD_TYPE_IDENTITY_UPDATE;
    case EVENT_TYPE_CONSENT_UPDATED:
      return cfg::RECORD_TYPE_CONSENT_NOTICE;
    case EVENT_TYPE_ATTENDANCE_SUMMARY:
    case EVENT_TYPE_OUTCOME_EVIDENCE:
      return cfg::RECORD_TYPE_EVIDENCE;
    default:
      return cfg::RECORD_TYPE_UNSPECIFIED;
  }
}

bool PolicyEngine::IsParty(const std::string& recipient,
                           const CaseRecord& record) {
  for (const auto& p : record.parties()) {
    if (p.agency_id() == recipient && p.reasons_size() > 0) return true;
  }
  return false;
}

namespace {

// Consent-derived bases, most restrictive first when several apply.
int Restrictiveness(SharingBasis b) {
  switch (b) {
    case cfg::SHARING_BASIS_CONSENT_REFUSED:
      return 0;
    case cfg::SHARING_BASIS_CONSENT_WITHDRAWN:
      return 1;
    case cfg::SHARING_BASIS_CONSENT_OUT_OF_SCOPE:
      return 2;
    case cfg::SHARING_BASIS_CONSENT_CITED:
      return 3;
    default:
      return 4;
  }
}

SharingBasis FromState(ConsentState s) {
  switch (s) {
    case ehx::cases::v1::CONSENT_STATE_REFUSED:
      return cfg::SHARING_BASIS_CONSENT_REFUSED;
    case ehx::cases::v1::CONSENT_STATE_WITHDRAWN:
    case ehx::cases::v1::CONSENT_STATE_EXPIRED:
      return cfg::SHARING_BASIS_CONSENT_WITHDRAWN;
    case ehx::cases::v1::CONSENT_STATE_GIVEN:
      return cfg::SHARING_BASIS_CONSENT_OUT_OF_SCOPE;
    default:
      return cfg::SHARING_BASIS_UNSPECIFIED;
  }
}

// Consent ids the payload itself relies on.
std::vector<std::string> CitedBy(const Envelope& e) {
  std::vector<std::string> out;
  switch (e.payload_case()) {
    case Envelope::kCaseOpened:
      out.assign(e.case_opened().consent_ids().begin(),
                 e.case_opened().consent_ids().end());
      break;
    case Envelope::kCafNotification:
      out.push_back(e.caf_notification().consent_id());
      break;
    case Envelope::kAssessment:
      out.push_back(e.assessment().consent_id());
      break;
    case Envelope::kStepDown:
      out.push_back(e.step_down().handover().consent_id());
      break;
    case Envelope::kStepUpReferral:
      if (e.step_up_referral().legal_basis().kind() ==
          ehx::cases::v1::LEGAL_BASIS_KIND_CONSENT) {
        out.push_back(e.step_up_referral().legal_basis().consent_id());
      }
      break;
    default:
      break;
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

}  // namespace

SharingBasis PolicyEngine::DeriveBasis(const std::string& recipient,
                                       const Envelope& e,
                                       const CaseRecord& record,
                                       const std::set<int>& purposes) {
  // 1. A basis stated by the message itself.
  if (e.has_step_up_referral()) {
    const auto& r = e.step_up_referral();
    if ((r.has_significant_harm() && r.significant_harm()) ||
        r.legal_basis().kind() ==
            ehx::cases::v1::LEGAL_BASIS_KIND_SAFEGUARDING) {
      return cfg::SHARING_BASIS_SIGNIFICANT_HARM;
    }
    if (r.legal_basis().kind() ==
        ehx::cases::v1::LEGAL_BASIS_KIND_STATUTORY_DUTY) {
      return cfg::SHARING_BASIS_STATUTORY_DUTY;
    }
  }
  // 2. The most recent consent record naming the recipient.
  const ehx::record::v1::ConsentSummary* best = nullptr;
  const ehx::record::v1::ConsentSummary* latest = nullptr;
  for (const auto& c : record.consents()) {
    if (FromState(c.state()) == cfg::SHARING_BASIS_UNSPECIFIED) continue;
    if (!latest || c.sequence() > latest->sequence()) latest = &c;
    if (std::find(c.scope_agency_ids().begin(), c.scope_agency_ids().end(),
                  recipient) == c.scope_agency_ids().end()) {
      continue;
    }
    if (!best || c.sequence() > best->sequence()) best = &c;
  }
  if (best) {
    if (best->state() != ehx::cases::v1::CONSENT_STATE_GIVEN) {
      return FromState(best->state());
    }
    for (int p : best->scope_purposes()) {
      if (purposes.count(p)) return cfg::SHARING_BASIS_CONSENT_IN_SCOPE;
    }
    return cfg::SHARING_BASIS_CONSENT_OUT_OF_SCOPE;
  }
  // 3. Consents the message (or, failing that, the case) cites.
  auto cited_basis = [&record](const std::vector<std::string>& ids) {
    SharingBasis b = cfg::SHARING_BASIS_UNSPECIFIED;
    for (const auto& id : ids) {
      SharingBasis this_one = cfg::SHARING_BASIS_CONSENT_CITED;
      for (const auto& c : record.consents()) {
        if (c.consent_id() == id) {
          SharingBasis s = FromState(c.state());
          if (s != cfg::SHARING_BASIS_UNSPECIFIED) this_one = s;
        }
      }
      if (b == cfg::SHARING_BASIS_UNSPECIFIED ||
          Restrictiveness(this_one) < Restrictiveness(b)) {
        b = this_one;
      }
    }
    return b;
  };
  std::vector<std::string> cited = CitedBy(e);
  SharingBasis b = cited_basis(cited);
  if (e.has_step_up_referral()) {
    const auto pc = e.step_up_referral().parents_consent();
    SharingBasis r = cfg::SHARING_BASIS_UNSPECIFIED;
    if (pc == ehx::cases::v1::REFERRAL_CONSENT_REFUSED) {
      r = cfg::SHARING_BASIS_CONSENT_REFUSED;
    } else if (pc == ehx::cases::v1::REFERRAL_CONSENT_GIVEN) {
      r = cfg::SHARING_BASIS_CONSENT_CITED;
    }
    if (r != cfg::SHARING_BASIS_UNSPECIFIED &&
        (b == cfg::SHARING_BASIS_UNSPECIFIED ||
         Restrictiveness(r) < Restrictiveness(b))) {
      b = r;
    }
  }
  if (b != cfg::SHARING_BASIS_UNSPECIFIED) return b;
  // 4. The most recent consent of the case, whoever it names.
  if (latest) return FromState(latest->state());
  // 5. Consent cited earlier in the case and not recorded otherwise.
  b = cited_basis(std::vector<std::string>(record.cited_consent_ids().begin(),
                                           record.cited_consent_ids().end()));
  if (b != cfg::SHARING_BASIS_UNSPECIFIED) return b;
  return cfg::SHARING_BASIS_NO_CONSENT;
}

Decision PolicyEngine::Evaluate(const std::string& recipient, const Envelope& e,
                                const CaseRecord& record) const {
  Request req;
  req.sender = e.sender_agency();
  req.recipient = recipient;
  req.record_type = RecordTypeOf(e.event_type());
  // The payload must be the one the event type names.
  bool payload_ok = false;
  for (const auto& f : PayloadFieldsOf(req.record_type)) {
    const auto* fd = Envelope::descriptor()->FindFieldByName(f);
    if (fd && static_cast<int>(e.payload_case()) == fd->number())
      payload_ok = true;
  }
  if (!payload_ok) req.record_type = cfg::RECORD_TYPE_UNSPECIFIED;
  static const std::set<int> kNone;
  auto p = purposes_.find(req.record_type);
  req.basis = DeriveBasis(recipient, e, record,
                          p == purposes_.end() ? kNone : p->second);
  req.party = IsParty(recipient, record);
  return Decide(req);
}

bool PolicyEngine::ApplyMask(const Decision& d, Envelope* e) const {
  e->clear_extra_recipients();
  // Unmapped native content is kept with the event, never shared: no rule
  // can have reviewed what the sender's contract does not define.
  e->clear_unmapped();
  e->GetReflection()->MutableUnknownFields(e)->Clear();
  if (!d.share || d.mask == nullptr) {
    e->clear_payload();
    return false;
  }
  const pb::Descriptor* desc = Envelope::descriptor();
  const pb::OneofDescriptor* oneof = desc->FindOneofByName("payload");
  const pb::FieldDescriptor* f =
      e->GetReflection()->GetOneofFieldDescriptor(*e, oneof);
  if (f == nullptr) return true;
  // The mask's root names payload fields; header fields are kept.
  const pb::Reflection* r = e->GetReflection();
  pb::Message* payload = r->MutableMessage(e, f);
  const MaskTree* node = d.mask->Child(f);
  if (node == nullptr) {
    payload->Clear();  // unreachable: validation requires a path per payload
  } else if (!node->whole()) {
    node->Prune(payload);
  }
  // Fields this gateway does not know cannot have been reviewed: drop them
  // even from whole records.
  e->DiscardUnknownFields();
  return true;
}

std::string PolicyEngine::AuditDetail(const std::string& recipient,
                                      const Decision& d) const {
  return absl::StrCat("to=", recipient,
                      " record=", cfg::RecordType_Name(d.record_type),
                      " basis=", cfg::SharingBasis_Name(d.basis),
                      " party=", d.party ? "yes" : "no", " rule=", d.rule_id,
                      " policy=", version_);
}

}  // namespace ehx::policy
