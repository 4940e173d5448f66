// A read-only nlohmann::json document whose whole tree lives in one
// std::pmr::monotonic_buffer_resource, for adapters that parse a native JSON
// file, walk it once to map it, and throw it away.
//
// Why: with nlohmann::json's default std::allocator every object member,
// array and long string is its own malloc, and freeing a 10,000-record tree
// node by node (glibc free + malloc_consolidate) cost more than parsing it
// (perf on the health FHIR bench: destroy 36% of MapFhir, parse 35%). Here
// nodes are bump-allocated from large blocks, deallocation is a no-op, and
// the tree is never destroyed node by node: the blocks are released when the
// document goes away. Same library, same parser, same grammar, same errors:
// only the allocator differs.
//
// Contract: the allocator finds its arena through a thread-local pointer
// that is set only while a document is being built (Parse, or a Building
// scope for a custom SAX builder). Values made while building live in the
// arena and must never be destroyed or modified once building ends (only
// read: the root is never destroyed, the arena goes away whole). Values made
// at any other time (copies taken while walking, dump()) use plain
// new/delete and are freed normally. Building scopes nest. A document is
// neither copyable nor movable; hold it by pointer to move it around.
// Header-only, standard library and nlohmann-json3-dev only.
#ifndef EHX_SDK_ARENA_JSON_H_
#define EHX_SDK_ARENA_JSON_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory_resource>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ehx::sdk {
namespace arena_json_internal {

// The arena of the innermost live ArenaJsonDocument on this thread.
inline thread_local std::pmr::memory_resource* current_arena = nullptr;

}  // namespace arena_json_internal

// Stateless allocator drawing from the current thread's document arena.
template <class T>
class ArenaJsonAllocator {
 public:
  using value_type = T;
  ArenaJsonAllocator() noexcept = default;
  template <class U>
  ArenaJsonAllocator(const ArenaJsonAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    std::pmr::memory_resource* r = arena_json_internal::current_arena;
    if (r == nullptr) r = std::pmr::new_delete_resource();
    return static_cast<T*>(r->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    // Inside a document the memory goes back with the whole arena.
    if (arena_json_internal::current_arena == nullptr) {
      std::pmr::new_delete_resource()->deallocate(p, n * sizeof(T), alignof(T));
    }
  }
  template <class U>
  bool operator==(const ArenaJsonAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const ArenaJsonAllocator<U>&) const noexcept {
    return false;
  }
};

using ArenaJsonString =
    std::basic_string<char, std::char_traits<char>, ArenaJsonAllocator<char>>;

// nlohmann::json with every node, array, object and string in the arena.
using ArenaJson = nlohmann::basic_json<std::map, std::vector, ArenaJsonString,
                                       bool, std::int64_t, std::uint64_t,
                                       double, ArenaJsonAllocator>;

// Owns the arena and the parsed root. Typical use:
//   ArenaJsonDocument doc(body.size());
//   if (!doc.Parse(body)) ...;   // nlohmann::json::parse, no exceptions
//   Walk(doc.root());
class ArenaJsonDocument {
 public:
  // `size_hint`: the JSON text's size; the first block is sized from it.
  explicit ArenaJsonDocument(std::size_t size_hint = 0)
      : arena_(std::max<std::size_t>(4096, size_hint * 2)) {}
  // The root is deliberately not destroyed: every byte it owns is in
  // arena_, which releases its blocks as a whole.
  ~ArenaJsonDocument() = default;
  ArenaJsonDocument(const ArenaJsonDocument&) = delete;
  ArenaJsonDocument& operator=(const ArenaJsonDocument&) = delete;

  // While alive, ArenaJson values made on this thread come from `doc`.
  class Building {
   public:
    explicit Building(ArenaJsonDocument* doc)
        : previous_(arena_json_internal::current_arena) {
      arena_json_internal::current_arena = &doc->arena_;
    }
    ~Building() { arena_json_internal::current_arena = previous_; }
    Building(const Building&) = delete;
    Building& operator=(const Building&) = delete;

   private:
    std::pmr::memory_resource* previous_;
  };

  // A null value in the arena, never destroyed: the root slot for a custom
  // SAX builder (fill it inside a Building scope).
  ArenaJson* NewRoot() {
    root_ = new (arena_.allocate(sizeof(ArenaJson), alignof(ArenaJson)))
        ArenaJson();
    return root_;
  }

  // Parses `text` as one JSON value (nlohmann::json::parse with exceptions
  // off). Returns false when the text is not JSON; root() is then
  // discarded.
  bool Parse(std::string_view text) {
    Building building(this);
    *NewRoot() = ArenaJson::parse(text.begin(), text.end(), nullptr,
                                  /*allow_exceptions=*/false);
    return !root_->is_discarded();
  }

  // The parsed value (null before Parse).
  const ArenaJson& root() const { return root_ ? *root_ : null_; }

 private:
  std::pmr::monotonic_buffer_resource arena_;
  ArenaJson* root_ = nullptr;
  const ArenaJson null_;
};

// The string value of `j` as a view into the document ("" when `j` is null
// or not a string).
inline std::string_view ArenaJsonStringView(const ArenaJson* j) {
  if (j == nullptr || !j->is_string()) return {};
  const ArenaJsonString& s = j->get_ref<const ArenaJsonString&>();
  return std::string_view(s.data(), s.size());
}

}  // namespace ehx::sdk

#endif  // EHX_SDK_ARENA_JSON_H_
