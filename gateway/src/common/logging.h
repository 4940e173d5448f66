// Process-wide logging (spdlog). Log lines carry agency ids, message ids
// and Pseudonym()s only: never names, NHS numbers or case free text.
#ifndef EHX_COMMON_LOGGING_H_
#define EHX_COMMON_LOGGING_H_

#include <string_view>

#include "spdlog/spdlog.h"

namespace ehx {

// Sets the default logger to stderr with `level` ("trace".."off").
// Call once at start, before other threads exist.
void InitLogging(std::string_view level);

}  // namespace ehx

#endif  // EHX_COMMON_LOGGING_H_
