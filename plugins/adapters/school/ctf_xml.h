// A small, hardened XML reader for the school adapter: libexpat builds an
// in-memory element tree. No protobuf, no adapter SDK: the fuzz target and
// the benchmark use it on its own.
//
// Security: any document type declaration (internal or external DTD) is
// refused, so no entity can be declared: external entities (XXE) and
// entity-expansion bombs ("billion laughs") are rejected before anything is
// expanded. Parameter entity parsing is off. Depth, element count and input
// size are bounded. Thread-safe: every call uses its own parser.
#ifndef EHX_ADAPTERS_SCHOOL_CTF_XML_H_
#define EHX_ADAPTERS_SCHOOL_CTF_XML_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

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

// Parses `bytes` (UTF-8, UTF-16 or ISO-8859-1 as declared; output UTF-8)
// into `root`. Returns false and fills `error` when the document is refused.
bool ParseXml(std::string_view bytes, const XmlLimits& limits, XmlElement* root,
              XmlError* error);

// `s` without leading and trailing ASCII whitespace.
std::string_view TrimXml(std::string_view s);

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_CTF_XML_H_
