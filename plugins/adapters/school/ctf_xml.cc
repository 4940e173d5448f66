// libexpat is used rather than a hand-written parser: it is a well-kept
// Debian library with a long fuzzing history. See ctf_xml.h.
#include "ctf_xml.h"

#include <expat.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace ehx::adapters::school {

size_t XmlPosition::Begin() const {
  return static_cast<size_t>(XML_GetCurrentByteIndex(parser_));
}

size_t XmlPosition::End() const {
  return static_cast<size_t>(XML_GetCurrentByteIndex(parser_)) +
         static_cast<size_t>(XML_GetCurrentByteCount(parser_));
}

namespace xml_internal {

void StreamState::Fail(const char* rule, const char* message) {
  if (failed) return;
  failed = true;
  error.rule = rule;
  error.message = message;
  error.line = static_cast<int>(XML_GetCurrentLineNumber(parser));
  error.column = static_cast<int>(XML_GetCurrentColumnNumber(parser));
  XML_StopParser(parser, XML_FALSE);
}

}  // namespace xml_internal

namespace {

using State = xml_internal::StreamState;

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

// The first 8 bytes of a name, zero-padded: most names differ there, so
// Child() compares one integer before any bytes.
uint64_t PrefixOfName(std::string_view name) {
  uint64_t v = 0;
  std::memcpy(&v, name.data(), std::min<size_t>(8, name.size()));
  return v;
}

bool IsXmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Builds the XmlElement tree of ParseXml.
class TreeSink : public XmlSink {
 public:
  TreeSink(std::string_view bytes, XmlElement* root)
      : lines_(bytes), root_(root) {}
  bool have_root() const { return have_root_; }

  void StartElement(std::string_view name, const XmlPosition& at) override {
    XmlElement* e;
    if (stack_.empty()) {
      e = root_;
      have_root_ = true;
    } else {
      // Only the innermost open element's vector grows: ancestors'
      // addresses (held in the stack) stay valid.
      stack_.back()->children.emplace_back();
      e = &stack_.back()->children.back();
    }
    e->name = std::string(name);
    e->line = lines_.LineAt(at.Begin());
    stack_.push_back(e);
  }
  void EndElement(const XmlPosition&) override {
    if (!stack_.empty()) stack_.pop_back();
  }
  void Text(std::string_view text) override {
    if (!stack_.empty()) stack_.back()->text.append(text);
  }

 private:
  LineCounter lines_;
  XmlElement* root_;
  bool have_root_ = false;
  std::vector<XmlElement*> stack_;
};

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
  size_t b = 0, e = s.size();
  while (b < e && IsXmlSpace(s[b])) ++b;
  while (e > b && IsXmlSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void FlatXmlTree::Clear() {
  nodes_.clear();
  open_.clear();
  names_.clear();
  text_.clear();
}

void FlatXmlTree::Start(std::string_view name, size_t begin, int line) {
  const int index = static_cast<int>(nodes_.size());
  Node& n = nodes_.emplace_back();
  n.name_off = static_cast<uint32_t>(names_.size());
  n.name_len = static_cast<uint32_t>(name.size());
  n.name_prefix = PrefixOfName(name);
  names_.append(name);
  n.line = line;
  n.begin = begin;
  n.end = begin;
  if (!open_.empty()) {
    Node& parent = nodes_[open_.back()];
    if (parent.last_child == kNone) {
      parent.first_child = index;
    } else {
      nodes_[parent.last_child].next_sibling = index;
    }
    parent.last_child = index;
  }
  open_.push_back(index);
}

void FlatXmlTree::End(size_t end) {
  if (open_.empty()) return;
  nodes_[open_.back()].end = end;
  open_.pop_back();
}

void FlatXmlTree::AppendText(std::string_view text) {
  if (open_.empty() || text.empty()) return;
  Node& n = nodes_[open_.back()];
  if (n.text_len == 0) {
    // Leading whitespace is trimmed by every reader: never stored.
    size_t i = 0;
    while (i < text.size() && IsXmlSpace(text[i])) ++i;
    if (i == text.size()) return;
    text.remove_prefix(i);
    n.text_off = static_cast<uint32_t>(text_.size());
  } else if (n.text_off + n.text_len != text_.size()) {
    // Mixed content: a child's text came in between. Move this node's
    // text to the end first (rare: records are element-only).
    const size_t off = text_.size();
    text_.append(text_, n.text_off, n.text_len);
    n.text_off = static_cast<uint32_t>(off);
  }
  text_.append(text);
  n.text_len += static_cast<uint32_t>(text.size());
}

uint64_t FlatXmlTree::PrefixOf(std::string_view name) {
  return PrefixOfName(name);
}

std::string_view FlatXmlTree::Name(int node) const {
  if (node == kNone) return {};
  const Node& n = nodes_[node];
  return std::string_view(names_).substr(n.name_off, n.name_len);
}

std::string_view FlatXmlTree::Text(int node) const {
  if (node == kNone) return {};
  const Node& n = nodes_[node];
  return TrimXml(std::string_view(text_).substr(n.text_off, n.text_len));
}

int FlatXmlTree::Child(int node, std::string_view name) const {
  if (node == kNone) return kNone;
  const uint64_t prefix = PrefixOfName(name);
  for (int c = nodes_[node].first_child; c != kNone;
       c = nodes_[c].next_sibling) {
    const Node& n = nodes_[c];
    if (n.name_prefix == prefix && n.name_len == name.size() &&
        (name.size() <= 8 ||
         std::memcmp(names_.data() + n.name_off + 8, name.data() + 8,
                     name.size() - 8) == 0)) {
      return c;
    }
  }
  return kNone;
}

bool StreamXml(std::string_view bytes, const XmlLimits& limits, XmlSink* sink,
               XmlError* error) {
  return StreamXmlTo(bytes, limits, sink, error);
}

namespace xml_internal {

bool Run(std::string_view bytes, const XmlLimits& limits, void* sink,
         StartHandler start, EndHandler end, TextHandler text,
         XmlError* error) {
  if (bytes.size() > limits.max_bytes) {
    *error = {"xml_too_large", "the document is larger than the limit", 0, 0};
    return false;
  }
  XML_Parser parser = XML_ParserCreate(nullptr);
  if (parser == nullptr) {
    *error = {"xml_malformed", "cannot create an XML parser", 0, 0};
    return false;
  }
  State s(parser);
  s.limits = &limits;
  s.sink = sink;
  XML_SetUserData(s.parser, &s);
  XML_SetElementHandler(s.parser, start, end);
  XML_SetCharacterDataHandler(s.parser, text);
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
  XML_ParserFree(s.parser);
  if (s.failed) {
    *error = s.error;
    return false;
  }
  return true;
}

}  // namespace xml_internal

bool ParseXml(std::string_view bytes, const XmlLimits& limits, XmlElement* root,
              XmlError* error) {
  *root = XmlElement();
  TreeSink sink(bytes, root);
  if (!StreamXml(bytes, limits, &sink, error)) {
    *root = XmlElement();
    return false;
  }
  if (!sink.have_root()) {
    *error = {"xml_malformed", "the document has no root element", 1, 0};
    return false;
  }
  return true;
}

}  // namespace ehx::adapters::school
