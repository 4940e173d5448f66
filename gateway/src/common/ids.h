// Identifiers and digests.
#ifndef EHX_COMMON_IDS_H_
#define EHX_COMMON_IDS_H_

#include <string>
#include <string_view>

namespace ehx {

// A new 26-character ULID (48-bit millisecond time + 80 random bits,
// Crockford base32): unique, sortable by creation time. Thread-safe.
std::string NewMessageId();

// SHA-256 of `data` as 32 raw bytes.
std::string Sha256(std::string_view data);

// Lower-case hex of `bytes`.
std::string ToHex(std::string_view bytes);

// A pseudonymous reference for logs: the first 12 hex chars of
// SHA-256("ehx-log|" + value). Never log a case reference or identifier
// without passing it through this.
std::string Pseudonym(std::string_view value);

}  // namespace ehx

#endif  // EHX_COMMON_IDS_H_
