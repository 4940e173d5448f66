// libexpat is used rather than a hand-written parser: it is a well-kept
// Debian library with a long fuzzing history. See ctf_xml.h.
#include "ctf_xml.h"

#include <expat.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ehx::adapters::school {
namespace {

struct State {
  XML_Parser parser = nullptr;
  const XmlLimits* limits = nullptr;
  XmlElement* root = nullptr;
  bool have_root = false;
  std::vector<XmlElement*> stack;
  size_t elements = 0;
  XmlError error;
  bool failed = false;

  void Fail(const char* rule, const char* message) {
    if (failed) return;
    failed = true;
    error.rule = rule;
    error.message = message;
    error.line = static_cast<int>(XML_GetCurrentLineNumber(parser));
    error.column = static_cast<int>(XML_GetCurrentColumnNumber(parser));
    XML_StopParser(parser, XML_FALSE);
  }
};

// Strips a namespace prefix ("ctf:Pupil" -> "Pupil").
std::string_view LocalName(const XML_Char* name) {
  std::string_view n(name);
  const size_t colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

void XMLCALL OnStart(void* data, const XML_Char* name, const XML_Char**) {
  auto* s = static_cast<State*>(data);
  if (s->failed) return;
  if (++s->elements > s->limits->max_elements) {
    s->Fail("xml_too_many_elements", "the document has too many elements");
    return;
  }
  if (static_cast<int>(s->stack.size()) >= s->limits->max_depth) {
    s->Fail("xml_too_deep", "the document nests elements too deeply");
    return;
  }
  XmlElement* e;
  if (s->stack.empty()) {
    e = s->root;
    s->have_root = true;
  } else {
    // Only the innermost open element's vector grows: ancestors' addresses
    // (held in the stack) stay valid.
    s->stack.back()->children.emplace_back();
    e = &s->stack.back()->children.back();
  }
  e->name = std::string(LocalName(name));
  e->line = static_cast<int>(XML_GetCurrentLineNumber(s->parser));
  s->stack.push_back(e);
}

void XMLCALL OnEnd(void* data, const XML_Char*) {
  auto* s = static_cast<State*>(data);
  if (s->failed || s->stack.empty()) return;
  s->stack.pop_back();
}

void XMLCALL OnText(void* data, const XML_Char* text, int len) {
  auto* s = static_cast<State*>(data);
  if (s->failed || s->stack.empty() || len <= 0) return;
  s->stack.back()->text.append(text, static_cast<size_t>(len));
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
  static_cast<State*>(data)->Fail("xml_dtd_refused",
                                  "entity declarations are not accepted");
}

// Belt and braces: an external entity reference is never loaded.
int XMLCALL OnExternalEntity(XML_Parser parser, const XML_Char*,
                             const XML_Char*, const XML_Char*,
                             const XML_Char*) {
  auto* s = static_cast<State*>(XML_GetUserData(parser));
  s->Fail("xml_dtd_refused", "external entities are not accepted");
  return XML_STATUS_ERROR;
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* c = Child(child_name);
  return c == nullptr ? std::string() : std::string(TrimXml(c->text));
}

std::string_view TrimXml(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool ParseXml(std::string_view bytes, const XmlLimits& limits, XmlElement* root,
              XmlError* error) {
  *root = XmlElement();
  if (bytes.size() > limits.max_bytes) {
    *error = {"xml_too_large", "the document is larger than the limit", 0, 0};
    return false;
  }
  State s;
  s.limits = &limits;
  s.root = root;
  s.parser = XML_ParserCreate(nullptr);
  if (s.parser == nullptr) {
    *error = {"xml_malformed", "cannot create an XML parser", 0, 0};
    return false;
  }
  XML_SetUserData(s.parser, &s);
  XML_SetElementHandler(s.parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(s.parser, &OnText);
  XML_SetStartDoctypeDeclHandler(s.parser, &OnDoctype);
  XML_SetEntityDeclHandler(s.parser, &OnEntityDecl);
  XML_SetExternalEntityRefHandler(s.parser, &OnExternalEntity);
  XML_SetParamEntityParsing(s.parser, XML_PARAM_ENTITY_PARSING_NEVER);

  // Feed in chunks: XML_Parse takes an int length.
  constexpr size_t kChunk = size_t{1} << 20;
  size_t off = 0;
  bool ok = true;
  do {
    const size_t n = std::min(kChunk, bytes.size() - off);
    const bool last = off + n == bytes.size();
    if (XML_Parse(s.parser, bytes.data() + off, static_cast<int>(n),
                  last ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
      ok = false;
      break;
    }
    off += n;
  } while (off < bytes.size());
  if (!ok && !s.failed) {
    s.failed = true;
    s.error.rule = "xml_malformed";
    s.error.message = std::string("not well-formed XML: ") +
                      XML_ErrorString(XML_GetErrorCode(s.parser));
    s.error.line = static_cast<int>(XML_GetCurrentLineNumber(s.parser));
    s.error.column = static_cast<int>(XML_GetCurrentColumnNumber(s.parser));
  }
  if (!s.failed && !s.have_root) {
    s.failed = true;
    s.error = {"xml_malformed", "the document has no root element", 1, 0};
  }
  XML_ParserFree(s.parser);
  if (s.failed) {
    *error = s.error;
    *root = XmlElement();
    return false;
  }
  return true;
}

}  // namespace ehx::adapters::school
