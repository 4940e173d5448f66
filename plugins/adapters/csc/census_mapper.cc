// CIN census -> ehx envelopes: RC9 closures become StepDown, 5D referrals
// that match an ehx step-up become ReferralOutcome with the CSC episode
// link. See README.md "CIN census" for the mapping table.
#include <google/protobuf/arena.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "cin_census.h"
#include "csc_ingest.h"
#include "csc_util.h"

namespace ehx::adapters::csc {
namespace {

namespace cv1 = ::ehxpb::cases::v1;
namespace ex = ::ehxpb::exchange::v1;
using ::google::protobuf::Arena;

RecordError Err(std::string field, std::string rule, std::string message,
                bool flagged) {
  RecordError e;
  e.set_field(std::move(field));
  e.set_rule(std::move(rule));
  e.set_message(std::move(message));
  e.set_flagged_only(flagged);
  return e;
}

// "2025" -> "2024-25".
std::string CollectionVersion(const CscConfig& config, const CensusHeader& h) {
  if (!config.collection_year().empty()) return config.collection_year();
  if (h.year.size() == 4 &&
      std::all_of(h.year.begin(), h.year.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    const int y = std::stoi(h.year);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04d-%02d", y - 1, y % 100);
    return buf;
  }
  return "";
}

// The systems as std::strings: protobuf 3.21 sets a string field from a
// `const char*` through a temporary std::string (a heap allocation for
// anything over 15 bytes), from a std::string with one copy.
struct Systems {
  const std::string nhs = kNhsSystem;
  const std::string la_child_id = kLaChildIdSystem;
  const std::string upn = kUpnSystem;
  const std::string former_upn = kFormerUpnSystem;
  const std::string sex = kSexSystem;
  const std::string ethnicity = kEthnicitySystem;
  const std::string disability = kDisabilitySystem;
  const std::string reason_for_closure = kReasonForClosureSystem;
  const std::string referral_source = kReferralSourceSystem;
};
const Systems& Sys() {
  static const auto* systems = new Systems();
  return *systems;
}

void SetCode(cv1::Code* c, const std::string& system, const std::string& code,
             const std::string& version, const std::string& original) {
  c->set_system(system);
  c->set_code(code);
  c->set_version(version);
  c->set_original_value(original);
}

// One read-only Code message per distinct (system, code, version, original
// value) per census, on the census arena, shared by every envelope that
// carries it: sex, ethnicity, disability, referral source and closure
// reason codes repeat from child to child, and each Code is four arena
// strings (the system URI, over 15 bytes, also a heap block), built and
// freed again for every envelope otherwise. Same bytes when serialised.
// At most kMax distinct codes are kept (any more are made per use), so odd
// input cannot grow the table. Only for messages on the same arena (the
// codes are attached with unsafe_arena_set_allocated_*).
class SharedCodes {
 public:
  explicit SharedCodes(Arena* arena) : arena_(arena) {}

  cv1::Code* Get(const std::string& system, const std::string& code,
                 const std::string& version, const std::string& original) {
    key_.clear();  // length-prefixed parts: unambiguous
    for (const std::string* part : {&system, &code, &version, &original}) {
      const uint32_t n = static_cast<uint32_t>(part->size());
      key_.append(reinterpret_cast<const char*>(&n), sizeof(n));
      key_.append(*part);
    }
    if (auto it = codes_.find(key_); it != codes_.end()) return it->second;
    auto* c = Arena::CreateMessage<cv1::Code>(arena_);
    SetCode(c, system, code, version, original);
    if (codes_.size() < kMax) codes_.emplace(key_, c);
    return c;
  }

 private:
  static constexpr size_t kMax = 4096;
  Arena* arena_;
  std::string key_;
  std::unordered_map<std::string, cv1::Code*> codes_;
};

// Adds an NHS number / UPN identifier, flagged INVALID (and reported) when
// it fails its check. Temporary UPNs are TEMPORARY and reported as a note.
void AddUpn(const std::string& raw, const std::string& system,
            const char* field, cv1::Person* p,
            std::vector<RecordError>* flags) {
  if (raw.empty()) return;
  auto* id = p->add_identifiers();
  id->set_system(system);
  id->set_value(NormaliseId(raw, /*upper=*/true));
  id->set_original_value(raw);
  switch (CheckUpn(id->value())) {
    case UpnCheck::kValidPermanent:
      id->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
      break;
    case UpnCheck::kValidTemporary:
      id->set_verification(cv1::VERIFICATION_STATUS_TEMPORARY);
      flags->push_back(Err(field, "upn_temporary",
                           "temporary UPN: kept as TEMPORARY, never used to "
                           "link records",
                           true));
      break;
    case UpnCheck::kBadFormat:
      id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
      flags->push_back(Err(field, "upn_format",
                           "not a UPN (13 characters): kept as INVALID", true));
      break;
    case UpnCheck::kBadCheckLetter:
      id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
      flags->push_back(Err(field, "upn_check_letter",
                           "fails the mod-23 check letter: kept as INVALID",
                           true));
      break;
  }
}

void AddNhs(const std::string& raw, cv1::Person* p,
            std::vector<RecordError>* flags) {
  if (raw.empty()) return;
  auto* id = p->add_identifiers();
  id->set_system(Sys().nhs);
  id->set_value(NormaliseId(raw, false));
  id->set_original_value(raw);
  id->set_verification(cv1::VERIFICATION_STATUS_UNVERIFIED);
  const char* rule = nullptr;
  const char* why = nullptr;
  switch (CheckNhsNumber(id->value())) {
    case NhsCheck::kValid:
      return;
    case NhsCheck::kBadFormat:
      rule = "nhs_number_format";
      why = "not 10 digits: kept as INVALID";
      break;
    case NhsCheck::kImpossibleStem:
      rule = "nhs_number_modulus11";
      why = "impossible stem (check digit would be 10): kept as INVALID";
      break;
    case NhsCheck::kBadCheckDigit:
      rule = "nhs_number_modulus11";
      why = "fails the Modulus 11 check digit: kept as INVALID";
      break;
    case NhsCheck::kPlaceholder:
      rule = "nhs_number_placeholder";
      why = "a placeholder (one digit repeated): kept as INVALID";
      break;
  }
  id->set_verification(cv1::VERIFICATION_STATUS_INVALID);
  flags->push_back(Err("NHSnumber", rule, why, true));
}

// Census Sex (2024-25: M, F, U) or GenderCurrent (earlier: 1 male,
// 2 female, 0 not known, 9 not specified); numeric values are accepted in
// either element.
bool MapSex(const std::string& raw, std::string* code) {
  if (raw == "M" || raw == "m" || raw == "1") {
    *code = "M";
  } else if (raw == "F" || raw == "f" || raw == "2") {
    *code = "F";
  } else if (raw == "U" || raw == "u" || raw == "0" || raw == "9") {
    *code = "U";
  } else {
    return false;
  }
  return true;
}

// Builds the child; `flags` collects flagged problems.
// `person` must be on the arena of `codes`.
void MapChild(const CensusChild& c, const std::string& version,
              SharedCodes* codes, std::vector<RecordError>* flags,
              cv1::Person* person) {
  cv1::Person& p = *person;
  p.set_person_id("csc:" + c.la_child_id);
  auto* la = p.add_identifiers();
  la->set_system(Sys().la_child_id);
  la->set_value(c.la_child_id);
  la->set_original_value(c.la_child_id);
  la->set_verification(cv1::VERIFICATION_STATUS_VERIFIED);
  AddUpn(c.upn, Sys().upn, "UPN", &p, flags);
  AddUpn(c.former_upn, Sys().former_upn, "FormerUPN", &p, flags);
  AddNhs(c.nhs_number, &p, flags);

  if (!c.birth_date.empty()) {
    if (auto d = ParseIsoDate(c.birth_date)) {
      *p.mutable_date_of_birth() = *d;
    } else {
      flags->push_back(Err("PersonBirthDate", "date_invalid",
                           "not a YYYY-MM-DD calendar date: left out", true));
    }
  }
  if (!c.expected_birth_date.empty()) {
    if (auto d = ParseIsoDate(c.expected_birth_date)) {
      if (!p.has_date_of_birth()) {
        p.set_unborn(true);
        *p.mutable_expected_date_of_delivery() = *d;
      }
    } else {
      flags->push_back(Err("ExpectedPersonBirthDate", "date_invalid",
                           "not a YYYY-MM-DD calendar date: left out", true));
    }
  }
  if (!c.death_date.empty()) {
    if (auto d = ParseIsoDate(c.death_date)) {
      *p.mutable_date_of_death() = *d;
    } else {
      flags->push_back(Err("PersonDeathDate", "date_invalid",
                           "not a YYYY-MM-DD calendar date: left out", true));
    }
  }
  const std::string& sex_raw = !c.sex.empty() ? c.sex : c.gender_current;
  const char* sex_field = !c.sex.empty() ? "Sex" : "GenderCurrent";
  if (!sex_raw.empty()) {
    std::string code;
    if (MapSex(sex_raw, &code)) {
      p.unsafe_arena_set_allocated_sex(
          codes->Get(Sys().sex, code, version, sex_raw));
    } else {
      flags->push_back(Err(sex_field, "sex_code_unknown",
                           "not M, F, U (or 0, 1, 2, 9): left out", true));
    }
  }
  if (!c.ethnicity.empty()) {
    p.unsafe_arena_set_allocated_ethnicity(
        codes->Get(Sys().ethnicity, c.ethnicity, version, c.ethnicity));
  }
  for (const std::string& d : c.disabilities) {
    p.mutable_disabilities()->UnsafeArenaAddAllocated(
        codes->Get(Sys().disability, d, version, d));
  }
}

enum class Bool3 { kAbsent, kTrue, kFalse, kInvalid };
Bool3 ParseBool(const std::string& s) {
  if (s.empty()) return Bool3::kAbsent;
  if (s == "true" || s == "1" || s == "True" || s == "TRUE")
    return Bool3::kTrue;
  if (s == "false" || s == "0" || s == "False" || s == "FALSE") {
    return Bool3::kFalse;
  }
  return Bool3::kInvalid;
}

// A resolved early help link.
struct Link {
  std::string case_ref;
  std::string referral_id;
  std::string correlation_id;
  std::string how;  // "config", "index"
};

const ::ehxpb::adapters::csc::v1::CaseLink* ConfigLink(
    const CscConfig& config, const std::string& la_child_id) {
  for (const auto& l : config.case_links()) {
    if (l.la_child_id() == la_child_id && !l.case_ref().empty()) return &l;
  }
  return nullptr;
}

int64_t DayNumber(const cv1::Date& d) {
  // Days since 1970-01-01 (civil), via the midnight-UTC count.
  int y = d.year(), m = d.month();
  const int dd = d.day();
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) -
         719468;
}

// Chooses among index entries whose referred_on lies in [lo, hi] (day
// numbers): the newest; nullopt + `ambiguous` when two newest disagree.
std::optional<Link> Choose(const std::vector<LinkEntry>& entries, int64_t lo,
                           int64_t hi, bool* ambiguous) {
  *ambiguous = false;
  const LinkEntry* best = nullptr;
  int64_t best_day = 0;
  for (const LinkEntry& e : entries) {
    auto d = ParseIsoDate(e.referred_on);
    if (!d) continue;
    const int64_t day = DayNumber(*d);
    if (day < lo || day > hi) continue;
    if (best == nullptr || day > best_day) {
      best = &e;
      best_day = day;
      *ambiguous = false;
    } else if (day == best_day && e.case_ref != best->case_ref) {
      *ambiguous = true;
    }
  }
  if (best == nullptr || *ambiguous) return std::nullopt;
  return Link{best->case_ref, best->referral_id, best->correlation_id, "index"};
}

std::string EpisodeVersion(const CinDetails& d) {
  return StableHash({d.referral_date, d.referral_source, d.closure_date,
                     d.reason_for_closure, d.referral_nfa,
                     std::to_string(d.section47s), d.primary_need});
}

// Maps the children of a census one at a time, into `result` (see
// MapCensus): either straight from the streaming reader (OnChild) or from
// a whole CensusFile (Map).
class CensusMapper : public CensusHandler {
 public:
  CensusMapper(const CscConfig& config, const LinkIndex& index,
               MapResult* result)
      : config_(config),
        index_(index),
        result_(result),
        lead_(config.step_down_lead_practitioner()),
        window_(config.link_window_days() > 0 ? config.link_window_days() : 30),
        prefix_(config.unlinked_case_ref_prefix().empty()
                    ? "CSC-"
                    : config.unlinked_case_ref_prefix()) {
    // Every envelope (and the child and episode messages they are built
    // from) lives on one arena that the items share (see MappedEnvelope).
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = size_t{64} << 10;
    arena_options.max_block_size = size_t{1} << 20;
    arena_ = std::make_shared<Arena>(arena_options);
    codes_ = SharedCodes(arena_.get());
  }

  // Takes the collection version from `header` (the first call only).
  void Start(const CensusHeader& header) {
    if (started_) return;
    started_ = true;
    version_ = CollectionVersion(config_, header);
  }
  bool started() const { return started_; }
  const std::string& version() const { return version_; }

  void OnChild(const CensusHeader& header, CensusChild* child) override {
    Start(header);
    Map(*child);
  }

  void Map(const CensusChild& c) {
    // Only the children with notes or a bad LAchildID need their position.
    std::string cpos;
    if (!c.issues.empty() || !c.unknown_elements.empty() ||
        c.la_child_id.empty() || !ValidLaChildId(c.la_child_id)) {
      cpos = absl::StrCat("Message/Children/Child[", c.index, "] (line ",
                          c.line, ")");
    }
    // Notes about the child as a whole.
    for (const CensusIssue& i : c.issues) {
      MappedItem note;
      note.position = cpos;
      note.counts_as_record = false;
      note.errors.push_back(Err(i.field, i.rule, i.message, true));
      result_->items.push_back(std::move(note));
    }
    for (const std::string& u : c.unknown_elements) {
      MappedItem note;
      note.position = cpos;
      note.counts_as_record = false;
      note.errors.push_back(Err(u, "unknown_element_ignored",
                                "element not part of the CIN census model "
                                "read by this adapter: ignored",
                                true));
      result_->items.push_back(std::move(note));
    }
    if (c.la_child_id.empty() || !ValidLaChildId(c.la_child_id)) {
      MappedItem bad;
      bad.position = cpos;
      bad.errors.push_back(
          c.la_child_id.empty()
              ? Err("LAchildID", "required",
                    "LAchildID is required to key the child's episodes", false)
              : Err("LAchildID", "la_child_id_format",
                    "LAchildID must be 1-20 letters and digits", false));
      result_->items.push_back(std::move(bad));
      return;
    }
    // The child is mapped (and looked up in the link index) only when one
    // of its episodes is an early help matter (5D or RC9): most are not.
    size_t last_rc9 = c.details.size();
    bool any_matter = false;
    for (size_t k = 0; k < c.details.size(); ++k) {
      const bool rc9 = c.details[k].reason_for_closure == "RC9";
      if (rc9) last_rc9 = k;
      any_matter = any_matter || rc9 || c.details[k].referral_source == "5D";
    }
    if (!any_matter) return;
    std::vector<RecordError> child_flags;
    cv1::Person& person = *Arena::CreateMessage<cv1::Person>(arena_.get());
    MapChild(c, version_, &codes_, &child_flags, &person);
    const std::vector<std::string> hashes = LinkableIdHashes(person);
    const auto* cfg_link = ConfigLink(config_, c.la_child_id);
    std::vector<LinkEntry> candidates;
    if (cfg_link == nullptr && !hashes.empty()) {
      candidates = index_.ByIdentifiers(hashes);
    }

    for (size_t k = 0; k < c.details.size(); ++k) {
      const CinDetails& d = c.details[k];
      // One allocation (absl::StrCat), not one per `+`: built for every
      // early help episode.
      const std::string dpos =
          absl::StrCat("Message/Children/Child[", c.index, "]/CINdetails[",
                       d.index, "] (line ", d.line, ")");
      const bool is_5d = d.referral_source == "5D";
      const bool is_rc9 = d.reason_for_closure == "RC9";
      if (!is_5d && !is_rc9) continue;  // not an early help matter

      std::vector<RecordError> flags = child_flags;
      for (const CensusIssue& i : d.issues) {
        flags.push_back(Err(i.field, i.rule, i.message, true));
      }
      // A dropped record: the reason first, then the notes about it.
      auto drop = [&](std::string field, std::string rule, std::string msg) {
        MappedItem bad;
        bad.position = dpos;
        bad.errors.push_back(
            Err(std::move(field), std::move(rule), std::move(msg), false));
        for (const RecordError& f : flags) bad.errors.push_back(f);
        result_->items.push_back(std::move(bad));
      };
      if (d.referral_date.empty()) {
        drop("CINreferralDate", "required",
             "CINreferralDate keys the episode and is required");
        continue;
      }
      const auto ref_date = ParseIsoDate(d.referral_date);
      if (!ref_date) {
        drop("CINreferralDate", "date_invalid",
             "not a YYYY-MM-DD calendar date");
        continue;
      }
      std::optional<cv1::Date> close_date;
      if (!d.closure_date.empty()) {
        close_date = ParseIsoDate(d.closure_date);
        if (!close_date) {
          drop("CINclosureDate", "date_invalid",
               "not a YYYY-MM-DD calendar date");
          continue;
        }
        if (DayNumber(*close_date) < DayNumber(*ref_date)) {
          drop("CINclosureDate", "date_range_reversed",
               "the closure date is before the referral date");
          continue;
        }
      }
      const Bool3 nfa = ParseBool(d.referral_nfa);
      if (nfa == Bool3::kInvalid) {
        flags.push_back(Err("ReferralNFA", "boolean_invalid",
                            "not true/false/1/0: treated as not stated", true));
      }

      cv1::CinEpisodeLink& episode =
          *Arena::CreateMessage<cv1::CinEpisodeLink>(arena_.get());
      episode.set_cin_episode_id(
          absl::StrCat(c.la_child_id, "/", d.referral_date));
      episode.set_la_child_id(c.la_child_id);
      *episode.mutable_referral_date() = *ref_date;
      if (close_date) *episode.mutable_closure_date() = *close_date;
      if (!d.reason_for_closure.empty()) {
        episode.unsafe_arena_set_allocated_reason_for_closure(
            codes_.Get(Sys().reason_for_closure, d.reason_for_closure, version_,
                       d.reason_for_closure));
      }
      if (!d.referral_source.empty()) {
        episode.unsafe_arena_set_allocated_referral_source(
            codes_.Get(Sys().referral_source, d.referral_source, version_,
                       d.referral_source));
      }
      const std::string ep_key = StableHash({c.la_child_id, d.referral_date});
      const std::string ep_version = EpisodeVersion(d);

      // The early help link of this episode.
      std::optional<Link> link;
      bool ambiguous = false;
      if (cfg_link != nullptr) {
        link = Link{cfg_link->case_ref(), cfg_link->referral_id(),
                    cfg_link->correlation_id(), "config"};
      }

      if (is_5d) {
        std::optional<Link> l5 = link;
        if (!l5) {
          const int64_t day = DayNumber(*ref_date);
          l5 = Choose(candidates, day - window_, day, &ambiguous);
        }
        if (!l5) {
          drop("ReferralSource",
               ambiguous ? "early_help_link_ambiguous"
                         : "early_help_link_not_found",
               ambiguous ? "two early help cases match this 5D referral: "
                           "add a case_links entry"
                         : "no ehx step-up referral or case_links entry "
                           "matches this 5D referral");
        } else {
          Envelope& env = *Arena::CreateMessage<Envelope>(arena_.get());
          env.set_event_type(ex::EVENT_TYPE_REFERRAL_OUTCOME);
          env.set_case_ref(l5->case_ref);
          const std::string referral_id =
              !l5->referral_id.empty() ? l5->referral_id : "cin-" + ep_key;
          env.set_correlation_id(
              !l5->correlation_id.empty() ? l5->correlation_id : referral_id);
          env.set_idempotency_key(
              absl::StrCat("csc-cin-ref-", ep_key, "-", ep_version));
          *env.mutable_occurred_at() = LondonMidnight(*ref_date);
          auto* o = env.mutable_referral_outcome();
          o->set_referral_id(referral_id);
          if (nfa == Bool3::kTrue) {
            o->set_decision(cv1::REFERRAL_DECISION_NO_FURTHER_ACTION);
          } else if (d.section47s > 0) {
            o->set_decision(cv1::REFERRAL_DECISION_S47_ENQUIRY);
          } else {
            o->set_decision(cv1::REFERRAL_DECISION_S17_ASSESSMENT);
          }
          *o->mutable_decided_at() = LondonMidnight(*ref_date);
          // The step-down below needs the episode too; else it moves.
          if (is_rc9) {
            *o->mutable_cin_episode() = episode;
          } else {
            *o->mutable_cin_episode() = std::move(episode);
          }
          o->set_feedback(
              "CIN census: episode of need recorded from referral source 5D "
              "(early help)");
          MappedItem item;
          item.position = dpos;
          item.envelope =
              MappedEnvelope(std::shared_ptr<Envelope>(arena_, &env));
          item.errors = flags;
          result_->items.push_back(std::move(item));
        }
      }

      if (is_rc9) {
        if (!close_date) {
          drop("CINclosureDate", "closure_date_required",
               "an RC9 closure needs CINclosureDate");
          continue;
        }
        if (lead_.name().empty() || lead_.agency_id().empty()) {
          drop("ReasonForClosure", "step_down_lead_practitioner_required",
               "config step_down_lead_practitioner (name, agency_id) is "
               "needed to publish a step-down");
          continue;
        }
        std::optional<Link> ld = link;
        std::vector<RecordError> sflags = flags;
        if (!ld) {
          bool amb = false;
          ld = Choose(candidates, DayNumber(*ref_date) - window_,
                      DayNumber(*close_date), &amb);
          if (amb) {
            sflags.push_back(Err("LAchildID", "early_help_link_ambiguous",
                                 "two early help cases match: published "
                                 "without an early help case link",
                                 true));
          }
        }
        Envelope& env = *Arena::CreateMessage<Envelope>(arena_.get());
        env.set_event_type(ex::EVENT_TYPE_STEP_DOWN);
        env.set_case_ref(ld ? ld->case_ref : prefix_ + c.la_child_id);
        env.set_idempotency_key(
            absl::StrCat("csc-cin-sd-", ep_key, "-", ep_version));
        *env.mutable_occurred_at() = LondonMidnight(*close_date);
        auto* s = env.mutable_step_down();
        s->set_cin_episode_id(episode.cin_episode_id());
        s->set_closure_reason("RC9");
        *s->mutable_cin_episode() = std::move(episode);  // its last use
        auto* lp = s->mutable_lead_practitioner();
        lp->set_name(lead_.name());
        lp->set_role(lead_.role());
        lp->set_agency_id(lead_.agency_id());
        lp->set_team(lead_.team());
        if (!lead_.phone().empty()) {
          auto* cp = lp->add_contacts();
          cp->set_kind(cv1::CONTACT_POINT_KIND_PHONE);
          cp->set_value(lead_.phone());
        }
        if (!lead_.email().empty()) {
          auto* cp = lp->add_contacts();
          cp->set_kind(cv1::CONTACT_POINT_KIND_SECURE_EMAIL);
          cp->set_value(lead_.email());
        }
        // The last step-down of the child takes the person, the others copy.
        if (k == last_rc9) {
          *s->add_children() = std::move(person);
        } else {
          *s->add_children() = person;
        }
        *s->mutable_decided_on() = *close_date;
        if (ld) s->set_early_help_case_id(ld->case_ref);
        MappedItem item;
        item.position = dpos;
        item.envelope = MappedEnvelope(std::shared_ptr<Envelope>(arena_, &env));
        item.errors = std::move(sflags);
        result_->items.push_back(std::move(item));
      }
    }
  }

 private:
  const CscConfig& config_;
  const LinkIndex& index_;
  MapResult* result_;
  const ::ehxpb::adapters::csc::v1::LeadPractitioner& lead_;
  const int window_;
  const std::string prefix_;
  std::shared_ptr<Arena> arena_;
  SharedCodes codes_{nullptr};  // on arena_
  bool started_ = false;
  std::string version_;
};

}  // namespace

MapResult MapCensusFile(const CensusFile& file, const CscConfig& config,
                        const LinkIndex& index) {
  MapResult result;
  CensusMapper mapper(config, index, &result);
  mapper.Start(file.header);
  for (const CensusChild& c : file.children) mapper.Map(c);
  return result;
}

// Reads and maps in one pass: each Child is mapped as soon as the reader
// has it (one reused CensusChild), so the children are never all held.
// Only the collection version comes from the Header, which a census puts
// before its Children; a file whose Header comes after (or changes after)
// the first Child is mapped again from a whole CensusFile with its final
// Header, so the result is always ParseCensus + map, whatever the order.
MapResult MapCensus(std::string_view bytes, const CscConfig& config,
                    const LinkIndex& index) {
  MapResult result;
  CensusError error;
  CensusHeader header;
  CensusMapper mapper(config, index, &result);
  bool ok = ParseCensusStream(bytes, &mapper, &header, &error);
  if (ok && mapper.started() &&
      mapper.version() != CollectionVersion(config, header)) {
    CensusFile file;
    ok = ParseCensus(bytes, &file, &error);
    result = MapCensusFile(file, config, index);
  }
  if (!ok) {
    result = MapResult();
    result.input_rejected = true;
    result.input_error = error.rule + ": " + error.message;
    if (error.line > 0) {
      result.input_error += " (line " + std::to_string(error.line) + ")";
    }
  }
  return result;
}

}  // namespace ehx::adapters::csc
