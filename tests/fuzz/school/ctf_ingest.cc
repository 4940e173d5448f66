// libFuzzer target: one CTF document through the whole school adapter
// pipeline (expat -> CTF reader -> mapper -> ingest report), with a
// publish callback that serializes each envelope. Pupils whose UPN is one
// of the fixtures' are in "open cases", so the mapper runs fully. Also a
// differential check: the one-pass ReadAndMapCtf (what IngestCtf uses; it
// reuses one CtfPupil for every pupil) must give exactly what ReadCtf then
// MapCtf give (the envelopes have no map fields, so equal messages
// serialise to equal bytes). And a second one: the streaming CTF reader
// must read every input exactly as the tree-based reader it replaced
// (tests/adapters/school/ctf_reader_reference.h: same accept/refuse and
// error, same value of every field, also through a reused CtfPupil).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ctf_reader_reference.h"
#include "school_ingest.h"

namespace school = ::ehx::adapters::school;

namespace {

std::string Text(const school::MappedCtf& m) {
  std::string out = m.file_rule + "|" + m.file_message + "|" +
                    std::to_string(m.pupils_read) + "\n";
  for (const auto& e : m.file_errors) out += e.SerializeAsString() + "\n";
  for (const school::MappedPupil& p : m.pupils) {
    out += std::to_string(p.index) + p.position + std::to_string(p.dropped) +
           std::to_string(p.no_open_case) + p.case_ref + "\n";
    for (const school::Envelope* env : p.envelopes) {
      out += env->SerializeAsString() + "\n";
    }
    for (const auto& e : p.errors) out += e.SerializeAsString() + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const school::CaseIndex* cases = [] {
    auto* c = new school::CaseIndex();
    for (const char* upn :
         {"R820999925001", "F820999925002", "V820999925003", "B820999925007",
          "Q820999925008", "E820999925009"}) {
      c->AddUpn(upn, "EH-2026-000123");
    }
    c->AddNhs("9990000050", "EH-2026-000125");
    return c;
  }();
  school::MapOptions options;
  options.cases = cases;
  options.school_agency_id = "school-fuzz";
  options.now_unix_seconds = 1769904000;
  school::XmlLimits limits;
  limits.max_bytes = 1 << 20;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  school::IngestOutcome out = school::IngestCtf(
      "fuzz.xml", bytes, options, limits, [](const school::Envelope& env) {
        std::string wire;
        env.SerializeToString(&wire);
        school::PublishOutcome o;
        o.message_id = env.idempotency_key();
        if (wire.size() % 7 == 0) {  // exercise the refusal path too
          o.code = 3;
          o.rule = "fuzz_refusal";
        }
        return o;
      });
  std::string report;
  out.report.SerializeToString(&report);

  school::CtfFile file;
  school::CtfFileError error;
  const bool read = school::ReadCtf(bytes, limits, &file, &error);
  school::MappedCtf one_pass;
  school::CtfFileError one_pass_error;
  if (school::ReadAndMapCtf(bytes, limits, options, &one_pass,
                            &one_pass_error) != read) {
    std::abort();
  }
  if (read && Text(one_pass) != Text(school::MapCtf(file, options))) {
    std::abort();
  }
  if (!read && (error.rule != one_pass_error.rule ||
                error.message != one_pass_error.message ||
                error.line != one_pass_error.line)) {
    std::abort();
  }
  if (!school::reference::CompareReaders(bytes, limits).empty()) {
    std::abort();
  }
  return 0;
}
