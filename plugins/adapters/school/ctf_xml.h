// A small, hardened XML layer for the school adapter over libexpat: a
// streaming driver (StreamXml, or StreamXmlTo for a sink type known at
// compile time) that reports elements and text to a sink, a flat,
// reusable element tree for one record at a time (FlatXmlTree),
// and a whole-document element tree (ParseXml) for tests and tools. No
// protobuf, no adapter SDK: the fuzz target and the benchmark use it on its
// own.
//
// Security: any document type declaration (internal or external DTD) is
// refused, so no entity can be declared: external entities (XXE) and
// entity-expansion bombs ("billion laughs") are rejected before anything is
// expanded. Parameter entity parsing is off. Depth, element count and input
// size are bounded. Thread-safe: every call uses its own parser.
#ifndef EHX_ADAPTERS_SCHOOL_CTF_XML_H_
#define EHX_ADAPTERS_SCHOOL_CTF_XML_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ehx_sdk/line_counter.h"

struct XML_ParserStruct;  // expat's parser (expat.h), opaque here

namespace ehx::adapters::school {

// One element: its local name, its character data (concatenated, not
// trimmed) and its child elements in document order. Attributes are not
// kept (CTF carries none that matter).
struct XmlElement {
  std::string name;
  std::string text;
  int line = 0;  // 1-based line of the start tag
  std::vector<XmlElement> children;

  // The first child named `name`, or nullptr.
  const XmlElement* Child(std::string_view name) const;
  // The trimmed text of the first child named `name`, or "".
  std::string ChildText(std::string_view name) const;
};

struct XmlLimits {
  size_t max_bytes = size_t{64} << 20;
  int max_depth = 32;
  size_t max_elements = 4'000'000;
};

// Why a document was refused. `rule` is a stable id: "xml_malformed",
// "xml_dtd_refused", "xml_too_large", "xml_too_deep",
// "xml_too_many_elements". `message` never quotes document content.
struct XmlError {
  std::string rule;
  std::string message;
  int line = 0;
  int column = 0;
};

namespace xml_internal {
struct StreamState;
}  // namespace xml_internal

// Where the event being reported is in the document given to StreamXml,
// in bytes; valid during that callback only. Asking costs calls into
// expat, so sinks ask only for the elements whose offsets they use (a CTF
// reader needs a handful per record, not one per element).
class XmlPosition {
 public:
  // In StartElement: the offset of the start tag's '<'.
  size_t Begin() const;
  // In EndElement: the offset just past the end tag's '>' (past "/>" for
  // an empty-element tag). An element spans [Begin(), End()).
  size_t End() const;

 private:
  friend struct xml_internal::StreamState;
  explicit XmlPosition(XML_ParserStruct* parser) : parser_(parser) {}
  XML_ParserStruct* parser_;
};

// Receives the events of StreamXml. `local_name` is the element name
// without its namespace prefix; views are valid during the call only.
class XmlSink {
 public:
  virtual ~XmlSink() = default;
  virtual void StartElement(std::string_view local_name,
                            const XmlPosition& at) = 0;
  virtual void EndElement(const XmlPosition& at) = 0;
  virtual void Text(std::string_view text) = 0;
};

// Streams `bytes` (UTF-8, UTF-16 or ISO-8859-1 as declared; text reported
// as UTF-8) through a hardened parser. Returns false and fills `error` when
// the document is refused (the sink may have seen part of it).
bool StreamXml(std::string_view bytes, const XmlLimits& limits, XmlSink* sink,
               XmlError* error);

namespace xml_internal {

// What StreamXmlTo's handlers share with the parser setup in ctf_xml.cc.
struct StreamState {
  explicit StreamState(XML_ParserStruct* p) : parser(p), position(p) {}
  XML_ParserStruct* parser;
  XmlPosition position;
  const XmlLimits* limits = nullptr;
  void* sink = nullptr;
  int depth = 0;
  size_t elements = 0;
  XmlError error;
  bool failed = false;

  // Records the refusal and stops the parser (first refusal wins).
  void Fail(const char* rule, const char* message);
  // Counts a start tag against the limits; false when it is refused (or
  // the document already was): the sink is then not told.
  bool Enter() {
    if (failed) return false;
    if (++elements > limits->max_elements) {
      Fail("xml_too_many_elements", "the document has too many elements");
      return false;
    }
    if (depth >= limits->max_depth) {
      Fail("xml_too_deep", "the document nests elements too deeply");
      return false;
    }
    ++depth;
    return true;
  }
  // An end tag the sink is told about (false after a refusal).
  bool Leave() {
    if (failed || depth == 0) return false;
    --depth;
    return true;
  }
};

// expat's handler types (expat.h, XML_Char = char, XMLCALL empty here).
using StartHandler = void (*)(void*, const char*, const char**);
using EndHandler = void (*)(void*, const char*);
using TextHandler = void (*)(void*, const char*, int);

// StreamXml's hardened parser setup and feeding loop, with the element and
// text handlers given (their user data is a StreamState* whose `sink` is
// `sink`).
bool Run(std::string_view bytes, const XmlLimits& limits, void* sink,
         StartHandler start, EndHandler end, TextHandler text, XmlError* error);

// Strips a namespace prefix ("ctf:Pupil" -> "Pupil"), in one pass.
inline std::string_view LocalName(const char* name) {
  const char* start = name;
  const char* p = name;
  for (; *p != '\0'; ++p) {
    if (*p == ':') start = p + 1;
  }
  return std::string_view(start, static_cast<size_t>(p - start));
}

}  // namespace xml_internal

// StreamXml for a sink known at compile time: the same parser, hardening,
// limits and events, but expat calls handlers made for `Sink`, so its
// StartElement/EndElement/Text are called directly (and can be inlined)
// instead of through XmlSink's virtual functions. Sink needs those three
// member functions with XmlSink's signatures.
template <typename Sink>
bool StreamXmlTo(std::string_view bytes, const XmlLimits& limits, Sink* sink,
                 XmlError* error) {
  using xml_internal::StreamState;
  struct Handlers {
    static void Start(void* data, const char* name, const char**) {
      auto* s = static_cast<StreamState*>(data);
      if (!s->Enter()) return;
      static_cast<Sink*>(s->sink)->StartElement(xml_internal::LocalName(name),
                                                s->position);
    }
    static void End(void* data, const char*) {
      auto* s = static_cast<StreamState*>(data);
      if (!s->Leave()) return;
      static_cast<Sink*>(s->sink)->EndElement(s->position);
    }
    static void Text(void* data, const char* text, int len) {
      auto* s = static_cast<StreamState*>(data);
      if (s->failed || s->depth == 0 || len <= 0) return;
      static_cast<Sink*>(s->sink)->Text(
          std::string_view(text, static_cast<size_t>(len)));
    }
  };
  return xml_internal::Run(bytes, limits, sink, &Handlers::Start,
                           &Handlers::End, &Handlers::Text, error);
}

// Line numbers from byte offsets (shared with the CSC adapter).
using ::ehx::sdk::LineCounter;

// The elements of one record (one subtree), flattened: nodes in document
// order in one vector, names and text in one buffer, linked by index. Built
// through Start/End/AppendText; Clear() empties it but keeps its capacity,
// so reading record after record allocates nothing once warm. Text that is
// only whitespace before an element's first other character is dropped
// (every reader trims), so text reads here are always trimmed.
class FlatXmlTree {
 public:
  static constexpr int kNone = -1;

  void Clear();
  bool empty() const { return nodes_.empty(); }

  // Builders. Start opens a child of the innermost open node (or the root).
  void Start(std::string_view name, size_t begin, int line);
  void End(size_t end);
  void AppendText(std::string_view text);
  // True while some node is open.
  bool open() const { return !open_.empty(); }

  // Readers. Node 0 is the root. Names compare exactly.
  std::string_view Name(int node) const;
  // Trimmed text of `node` ("" for kNone).
  std::string_view Text(int node) const;
  int Line(int node) const { return nodes_[node].line; }
  size_t Begin(int node) const { return nodes_[node].begin; }
  size_t End(int node) const { return nodes_[node].end; }
  // The first 8 bytes of Name(node), zero-padded (see PrefixOf).
  uint64_t NamePrefix(int node) const { return nodes_[node].name_prefix; }
  static uint64_t PrefixOf(std::string_view name);
  int FirstChild(int node) const { return nodes_[node].first_child; }
  int NextSibling(int node) const { return nodes_[node].next_sibling; }
  // The first child of `node` named `name`, or kNone (also for kNone).
  int Child(int node, std::string_view name) const;
  // Trimmed text of the first child named `name`, or "".
  std::string_view ChildText(int node, std::string_view name) const {
    return Text(Child(node, name));
  }
  std::string ChildString(int node, std::string_view name) const {
    return std::string(ChildText(node, name));
  }

 private:
  struct Node {
    uint64_t name_prefix = 0;  // first 8 bytes of the name, zero-padded
    uint32_t name_off = 0, name_len = 0;
    uint32_t text_off = 0, text_len = 0;
    int first_child = kNone, last_child = kNone, next_sibling = kNone;
    int line = 0;
    size_t begin = 0, end = 0;
  };
  std::vector<Node> nodes_;
  std::vector<int> open_;
  std::string names_;
  std::string text_;
};

// Parses `bytes` into `root`. Returns false and fills `error` when the
// document is refused.
bool ParseXml(std::string_view bytes, const XmlLimits& limits, XmlElement* root,
              XmlError* error);

// `s` without leading and trailing ASCII whitespace.
std::string_view TrimXml(std::string_view s);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_CTF_XML_H_
