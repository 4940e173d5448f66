// File helpers of the CSC adapter: atomic writes (temp + fsync + rename +
// directory fsync) and moves. Errors are strerror text, never file content.
#ifndef EHX_PLUGINS_ADAPTERS_CSC_CSC_FILES_H_
#define EHX_PLUGINS_ADAPTERS_CSC_CSC_FILES_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace ehx::adapters::csc {

// Writes `content` to dir/name atomically: a dot-prefixed temp file in the
// same directory, fsync, rename over the target, fsync of the directory.
// Readers that ignore dot files never see a partial file.
bool WriteFileAtomically(const std::filesystem::path& dir,
                         const std::string& name, std::string_view content,
                         std::string* error);

// Moves `from` into `dir` under the same name (rename; copy+unlink across
// file systems).
bool MoveInto(const std::filesystem::path& from,
              const std::filesystem::path& dir, std::string* error);

// Reads a whole regular file of at most `max_bytes`; false when it is
// larger (`too_large` set), gone, or unreadable.
bool ReadSmallFile(const std::filesystem::path& path, int64_t max_bytes,
                   std::string* out, bool* too_large);

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_CSC_FILES_H_
