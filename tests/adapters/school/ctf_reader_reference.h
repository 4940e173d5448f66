// TESTS ONLY: the tree-based CTF reader (a FlatXmlTree per Pupil, read by
// walking it) that the adapter used before the streaming reader, kept as
// the reference implementation the streaming reader must agree with on
// every input (ctf_reader_equivalence_test.cc, and the school fuzz target,
// which aborts on any difference). Compiled only into the school tests and
// the fuzz target; never into the adapter.
#ifndef EHX_TESTS_ADAPTERS_SCHOOL_CTF_READER_REFERENCE_H_
#define EHX_TESTS_ADAPTERS_SCHOOL_CTF_READER_REFERENCE_H_

#include <string>
#include <string_view>
#include <vector>

#include "ctf_reader.h"

namespace ehx::adapters::school::reference {

// Exactly the contracts of school::ReadCtf / school::ReadCtfStream
// (ctf_reader.h), computed the old way.
bool ReadCtf(std::string_view bytes, const XmlLimits& limits, CtfFile* out,
             CtfFileError* error);
bool ReadCtfStream(std::string_view bytes, const XmlLimits& limits,
                   CtfHandler* handler,
                   std::vector<std::string>* unknown_elements,
                   CtfFileError* error);

// Every field of the value, labelled and length-prefixed, so two values
// are equal exactly when their strings are (a failing comparison shows
// which field differs). Size checks in the .cc fail to compile when a
// record struct gains a field, as a reminder to add it here.
std::string DebugString(const CtfHeader& header);
std::string DebugString(const CtfPupil& pupil);
std::string DebugString(const CtfFile& file);
std::string DebugString(const CtfFileError& error);

// Reads `bytes` with the streaming reader (school::ReadCtf, which moves
// each pupil out, and school::ReadCtfStream with a handler that copies the
// reused CtfPupil, so stale fields of a reused pupil show) and with the
// reference; returns "" when all three agree on the result, the error and
// every field, else a description of the first difference.
std::string CompareReaders(std::string_view bytes, const XmlLimits& limits);

}  // namespace ehx::adapters::school::reference

#endif  // EHX_TESTS_ADAPTERS_SCHOOL_CTF_READER_REFERENCE_H_
