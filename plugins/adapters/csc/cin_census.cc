// CIN census reader over libexpat (Debian libexpat1-dev): a streaming
// parser with no DTD processing once we refuse DOCTYPE, which is exactly
// the hardening the census needs (the census has no DTD).
#include "cin_census.h"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <string>

#include "csc_util.h"
#include "ehx_sdk/line_counter.h"

namespace ehx::adapters::csc {
namespace {

constexpr int kMaxDepth = 32;
constexpr size_t kMaxText = 4096;
constexpr size_t kMaxChildren = 2'000'000;
constexpr size_t kMaxDetailsPerChild = 1000;

struct State {
  XML_Parser parser = nullptr;
  CensusHandler* handler = nullptr;
  CensusHeader* header = nullptr;
  // The Child being read (reused from child to child), and how many
  // Child elements have started.
  CensusChild child;
  bool child_open = false;
  size_t children = 0;
  ehx::sdk::LineCounter* lines = nullptr;
  // Local names of the open elements, root first: path[0..depth). The
  // strings are reused from element to element (assign, never erase), so
  // walking the document allocates nothing once they have grown.
  std::vector<std::string> path;
  size_t depth = 0;
  // Classified once when the element starts, so that every element's end
  // compares integers, not names: whether the open depth-3 element is
  // Message/Children/Child, and which block of the child the open depth-4
  // element is.
  bool in_child = false;
  enum Block { kOtherBlock, kIdentifiers, kCharacteristics, kDetails };
  Block block = kOtherBlock;
  std::string text;
  bool text_overflow = false;
  CensusError error;
  bool failed = false;
  bool saw_root = false;

  void Fail(std::string rule, std::string message) {
    if (failed) return;
    failed = true;
    error.rule = std::move(rule);
    error.message = std::move(message);
    error.line = static_cast<int>(XML_GetCurrentLineNumber(parser));
    XML_StopParser(parser, XML_FALSE);
  }
  // Line of the current start tag, from its byte offset (memchr per line;
  // XML_GetCurrentLineNumber walks every byte through expat's tracker).
  int Line() {
    const XML_Index at = XML_GetCurrentByteIndex(parser);
    return lines == nullptr || at < 0 ? 0
                                      : lines->LineAt(static_cast<size_t>(at));
  }
  CensusChild* Child() { return child_open ? &child : nullptr; }
  CinDetails* Details() {
    CensusChild* c = Child();
    return c == nullptr || c->details.empty() ? nullptr : &c->details.back();
  }
  bool At(std::initializer_list<std::string_view> suffix) const {
    if (suffix.size() > depth) return false;
    size_t i = depth - suffix.size();
    for (std::string_view s : suffix) {
      if (std::string_view(path[i++]) != s) return false;
    }
    return true;
  }
};

std::string_view LocalName(const XML_Char* name) {
  std::string_view n(name);
  const size_t colon = n.rfind(':');
  if (colon != std::string_view::npos) n.remove_prefix(colon + 1);
  return n;
}

// Assigns a leaf's text, reporting a repeated single-valued element.
void SetOnce(std::string* slot, std::string_view value, std::string_view field,
             std::vector<CensusIssue>* issues) {
  if (!slot->empty()) {
    issues->push_back({std::string(field), "duplicate_element",
                       std::string(field) + " appears more than once"});
    return;
  }
  *slot = value;
}

// Empties `c` for the next Child, keeping the capacity of its strings.
void ResetChild(CensusChild* c) {
  c->index = 0;
  c->line = 0;
  for (std::string* s :
       {&c->la_child_id, &c->upn, &c->former_upn, &c->upn_unknown,
        &c->nhs_number, &c->birth_date, &c->expected_birth_date, &c->sex,
        &c->gender_current, &c->death_date, &c->ethnicity}) {
    s->clear();
  }
  c->disabilities.clear();
  c->details.clear();
  c->unknown_elements.clear();
  c->issues.clear();
}

void XMLCALL OnStart(void* data, const XML_Char* name, const XML_Char**) {
  auto* st = static_cast<State*>(data);
  if (st->failed) return;
  if (st->path.size() <= st->depth) st->path.emplace_back();
  st->path[st->depth++].assign(LocalName(name));
  st->text.clear();
  st->text_overflow = false;
  if (st->depth > kMaxDepth) {
    st->Fail("xml_too_deep", "elements nested deeper than 32 levels");
    return;
  }
  const size_t depth = st->depth;
  if (depth == 1) {
    if (std::string_view(st->path[0]) != "Message") {
      st->Fail("cin_root_not_message",
               "the root element is not a CIN census Message");
    }
    st->saw_root = true;
    return;
  }
  if (depth == 3) st->in_child = st->At({"Message", "Children", "Child"});
  if (depth == 4) {
    const std::string_view n = st->path[3];
    st->block = n == "ChildIdentifiers"       ? State::kIdentifiers
                : n == "ChildCharacteristics" ? State::kCharacteristics
                : n == "CINdetails"           ? State::kDetails
                                              : State::kOtherBlock;
  }
  if (depth == 3 && st->in_child) {
    if (st->children >= kMaxChildren) {
      st->Fail("too_many_records", "more than 2,000,000 Child elements");
      return;
    }
    ResetChild(&st->child);  // filled in place, then handed over at its end
    st->child_open = true;
    st->child.index = static_cast<int>(++st->children);
    st->child.line = st->Line();
    return;
  }
  CensusChild* child = st->Child();
  if (depth == 4 && st->in_child && st->block == State::kDetails && child) {
    if (child->details.size() >= kMaxDetailsPerChild) {
      st->Fail("too_many_records", "more than 1000 CINdetails in one Child");
      return;
    }
    const int index = static_cast<int>(child->details.size()) + 1;
    CinDetails& d = child->details.emplace_back();
    d.index = index;
    d.line = st->Line();
    return;
  }
  if (depth == 5 && child && st->in_child && st->block == State::kDetails) {
    CinDetails* d = st->Details();
    if (d == nullptr) return;
    const std::string_view n = st->path[4];
    if (n == "Assessments") ++d->assessments;
    if (n == "CINPlanDates") ++d->cin_plans;
    if (n == "Section47") ++d->section47s;
    if (n == "ChildProtectionPlans") ++d->protection_plans;
  }
}

void XMLCALL OnText(void* data, const XML_Char* s, int len) {
  auto* st = static_cast<State*>(data);
  if (st->failed || len <= 0) return;
  if (st->text.size() + static_cast<size_t>(len) > kMaxText) {
    st->text_overflow = true;
    return;
  }
  st->text.append(s, static_cast<size_t>(len));
}

void OnChildLeaf(State* st, CensusChild* c, std::string_view value) {
  const auto& p = st->path;
  const size_t depth = st->depth;
  // Names compare as string_views: a length check first, no strlen.
  const std::string_view n = p[depth - 1];
  if (depth == 5 && st->block == State::kIdentifiers) {
    std::string* slot = nullptr;
    if (n == "LAchildID") {
      slot = &c->la_child_id;
    } else if (n == "UPN") {
      slot = &c->upn;
    } else if (n == "FormerUPN") {
      slot = &c->former_upn;
    } else if (n == "UPNunknown") {
      slot = &c->upn_unknown;
    } else if (n == "NHSnumber" || n == "NHSNumber") {
      slot = &c->nhs_number;
    } else if (n == "PersonBirthDate") {
      slot = &c->birth_date;
    } else if (n == "ExpectedPersonBirthDate") {
      slot = &c->expected_birth_date;
    } else if (n == "Sex") {
      slot = &c->sex;
    } else if (n == "GenderCurrent") {
      slot = &c->gender_current;
    } else if (n == "PersonDeathDate") {
      slot = &c->death_date;
    }
    if (slot != nullptr) {
      SetOnce(slot, value, n, &c->issues);
    } else {
      c->unknown_elements.emplace_back(n);
    }
    return;
  }
  if (depth == 5 && st->block == State::kCharacteristics && n == "Ethnicity") {
    SetOnce(&c->ethnicity, value, "Ethnicity", &c->issues);
    return;
  }
  if (depth == 6 && st->block == State::kCharacteristics &&
      std::string_view(p[4]) == "Disabilities" && n == "Disability") {
    if (!value.empty()) c->disabilities.emplace_back(value);
    return;
  }
  if (depth >= 5 && st->block == State::kDetails) {
    CinDetails* d = st->Details();
    if (d == nullptr) return;
    if (depth == 5) {
      std::string* slot = nullptr;
      if (n == "CINreferralDate") {
        slot = &d->referral_date;
      } else if (n == "ReferralSource") {
        slot = &d->referral_source;
      } else if (n == "PrimaryNeedCode") {
        slot = &d->primary_need;
      } else if (n == "CINclosureDate") {
        slot = &d->closure_date;
      } else if (n == "ReasonForClosure") {
        slot = &d->reason_for_closure;
      } else if (n == "DateOfInitialCPC") {
        slot = &d->date_of_initial_cpc;
      } else if (n == "ReferralNFA") {
        slot = &d->referral_nfa;
      }
      if (slot != nullptr) {
        SetOnce(slot, value, n, &d->issues);
      } else if (n != "Assessments" && n != "CINPlanDates" &&
                 n != "Section47" && n != "ChildProtectionPlans" &&
                 n != "PreProceedingsandFGDM") {
        c->unknown_elements.emplace_back(n);
      }
      return;
    }
    if (depth == 7 && std::string_view(p[4]) == "Assessments" &&
        std::string_view(p[5]) == "FactorsIdentifiedAtAssessment" &&
        n == "AssessmentFactors") {
      if (!value.empty()) d->assessment_factors.emplace_back(value);
    }
    return;
  }
}

void XMLCALL OnEnd(void* data, const XML_Char*) {
  auto* st = static_cast<State*>(data);
  if (st->failed) return;
  // A view of the element's text: st->text is cleared only at the end.
  const std::string_view value = Trim(st->text);
  const bool overflow = st->text_overflow;
  const size_t depth = st->depth;
  if (depth >= 4 && st->in_child) {
    if (CensusChild* c = st->Child()) {
      if (overflow) {
        c->issues.push_back({st->path[depth - 1], "text_too_long",
                             "element text longer than 4096 bytes"});
      } else {
        OnChildLeaf(st, c, value);
      }
    }
  } else if (depth == 4 && std::string_view(st->path[1]) == "Header") {
    const std::string_view n = st->path[3];
    const std::string_view block = st->path[2];
    if (block == "CollectionDetails") {
      if (n == "Collection") st->header->collection = value;
      if (n == "Year") st->header->year = value;
      if (n == "ReferenceDate") st->header->reference_date = value;
    } else if (block == "Source" && n == "LEA") {
      st->header->lea = value;
    }
  } else if (depth == 3 && st->in_child && st->child_open) {
    st->child_open = false;
    st->handler->OnChild(*st->header, &st->child);
  }
  st->text.clear();
  st->text_overflow = false;
  if (st->depth > 0) --st->depth;
}

void XMLCALL OnDoctype(void* data, const XML_Char*, const XML_Char*,
                       const XML_Char*, int) {
  static_cast<State*>(data)->Fail(
      "xml_dtd_refused",
      "document type declarations (DTDs, entities) are not accepted");
}

void XMLCALL OnEntityDecl(void* data, const XML_Char*, int, const XML_Char*,
                          int, const XML_Char*, const XML_Char*,
                          const XML_Char*, const XML_Char*) {
  static_cast<State*>(data)->Fail("xml_entity_refused",
                                  "entity declarations are not accepted");
}

int XMLCALL OnExternalEntity(XML_Parser, const XML_Char*, const XML_Char*,
                             const XML_Char*, const XML_Char*) {
  return XML_STATUS_ERROR;  // never fetch anything
}

}  // namespace

bool ParseCensusStream(std::string_view bytes, CensusHandler* handler,
                       CensusHeader* header, CensusError* error) {
  *header = CensusHeader();
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    *error = {"input_too_large", "the input is larger than 2 GiB", 0};
    return false;
  }
  XML_Parser parser = XML_ParserCreate(nullptr);
  if (parser == nullptr) {
    *error = {"internal", "cannot create the XML parser", 0};
    return false;
  }
  State st;
  st.parser = parser;
  st.handler = handler;
  st.header = header;
  ehx::sdk::LineCounter lines(bytes);
  st.lines = &lines;
  XML_SetUserData(parser, &st);
  XML_SetElementHandler(parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(parser, &OnText);
  XML_SetStartDoctypeDeclHandler(parser, &OnDoctype);
  XML_SetEntityDeclHandler(parser, &OnEntityDecl);
  XML_SetExternalEntityRefHandler(parser, &OnExternalEntity);
  XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
  const XML_Status status =
      XML_Parse(parser, bytes.data(), static_cast<int>(bytes.size()), 1);
  bool ok = true;
  if (st.failed) {
    *error = st.error;
    ok = false;
  } else if (status != XML_STATUS_OK) {
    error->rule = "xml_malformed";
    error->message = std::string("not well-formed XML: ") +
                     XML_ErrorString(XML_GetErrorCode(parser));
    error->line = static_cast<int>(XML_GetCurrentLineNumber(parser));
    ok = false;
  } else if (!st.saw_root) {
    *error = {"cin_root_not_message", "no Message element", 0};
    ok = false;
  }
  XML_ParserFree(parser);
  if (!ok) *header = CensusHeader();
  return ok;
}

bool ParseCensus(std::string_view bytes, CensusFile* out, CensusError* error) {
  class Collect : public CensusHandler {
   public:
    explicit Collect(CensusFile* out) : out_(out) {}
    void OnChild(const CensusHeader&, CensusChild* child) override {
      out_->children.push_back(std::move(*child));
    }

   private:
    CensusFile* out_;
  };
  *out = CensusFile();
  Collect collect(out);
  if (!ParseCensusStream(bytes, &collect, &out->header, error)) {
    *out = CensusFile();
    return false;
  }
  return true;
}

}  // namespace ehx::adapters::csc
