// Health adapter parser throughput: HL7 v2 ADT and FHIR Bundle inputs of
// 10,000+ records, parse+map vs parsing alone (our ER7 parser for HL7,
// nlohmann::json::parse for FHIR). Prints records/s, MB/s and
// health_mapping_vs_parse_ratio=<x> (FHIR: (total - library parse) / parse
// time). Not a ctest test.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "ehx_sdk/arena_json.h"
#include "hl7.h"
#include "mapping.h"

using namespace ehx::adapters::health;

namespace {

std::string NhsNumber(int i) {
  // 999 + 6-digit serial, with the Modulus 11 check digit (skip stems
  // whose check is 10).
  for (int k = i;; k += 1000000) {
    char stem[16];
    std::snprintf(stem, sizeof(stem), "999%06d", k % 1000000);
    int sum = 0;
    for (int j = 0; j < 9; ++j) sum += (stem[j] - '0') * (10 - j);
    int c = 11 - sum % 11;
    if (c == 11) c = 0;
    if (c != 10) return std::string(stem) + static_cast<char>('0' + c);
    ++i;
  }
}

double Seconds(double a, double b) { return b - a; }

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = 3;
  // HL7: n messages.
  std::vector<std::string> msgs;
  size_t hl7_bytes = 0;
  for (int i = 0; i < n; ++i) {
    std::string m =
        "MSH|^~\\&|PAS|RXX01|ROUTE|EHX|20260302091500+0000||ADT^A08^ADT_A01|"
        "MSG" +
        std::to_string(i) +
        "|P|2.4|||AL|NE|GBR|UNICODE UTF-8\rEVN|A08|20260302091500+0000\r"
        "PID|1||" +
        NhsNumber(i) + "^^^NHS^NH~PAS" + std::to_string(i) +
        "^^^RXX01^PI||Wiśniewski-O'Brien^Zoë^Renée^^Miss^^L||20241027|F|||"
        "Flat 2\\T\\3^14 Mill Lane^Stockton-on-Tees^County Durham^TS18 1AA^GB"
        "^H||01642 000000^PRN^PH|||||||||||||||||||NSTS01\r"
        "PV1|1|N||||||||||||||||||EH-2026-" +
        std::to_string(100000 + i) + "\r";
    hl7_bytes += m.size();
    msgs.push_back(std::move(m));
  }
  double parse_s = 1e9, map_s = 1e9;
  size_t ok = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = ::ehx::bench::Now();
    for (const auto& m : msgs) {
      hl7::Message msg;
      hl7::ParseError e;
      ok += msg.Parse(m, &e);
    }
    auto t1 = ::ehx::bench::Now();
    for (const auto& m : msgs) {
      hl7::Message msg;
      hl7::ParseError e;
      if (msg.Parse(m, &e)) ok += MapHl7(msg, MapOptions()).ok;
    }
    auto t2 = ::ehx::bench::Now();
    parse_s = std::min(parse_s, Seconds(t0, t1));
    map_s = std::min(map_s, Seconds(t1, t2));
  }
  const double mb = hl7_bytes / 1e6;
  std::printf("hl7: %d messages, %.2f MB\n", n, mb);
  std::printf("hl7_parse_only: %.0f records/s, %.1f MB/s\n", n / parse_s,
              mb / parse_s);
  std::printf("hl7_parse_map: %.0f records/s, %.1f MB/s\n", n / map_s,
              mb / map_s);
  // The rule: "the mapping should cost no more than the parse",
  // i.e. (parse+map - parse) / parse <= 1. The total is printed too.
  std::printf("health_hl7_total_vs_parse_ratio=%.2f\n", map_s / parse_s);
  std::printf("health_hl7_mapping_vs_parse_ratio=%.2f\n",
              std::max(0.0, map_s - parse_s) / parse_s);

  // FHIR: one Bundle of n Patients.
  nlohmann::json bundle = {{"resourceType", "Bundle"},
                           {"type", "collection"},
                           {"timestamp", "2026-03-03T10:00:00Z"},
                           {"entry", nlohmann::json::array()}};
  for (int i = 0; i < n; ++i) {
    bundle["entry"].push_back(
        {{"resource",
          {{"resourceType", "Patient"},
           {"id", "hv-" + std::to_string(i)},
           {"meta",
            {{"versionId", "1"}, {"lastUpdated", "2026-03-02T09:15:00Z"}}},
           {"extension",
            {{{"url", "urn:ehx:fhir:extension:case-ref"},
              {"valueString", "EH-2026-" + std::to_string(100000 + i)}}}},
           {"identifier",
            {{{"system", "https://fhir.nhs.uk/Id/nhs-number"},
              {"value", NhsNumber(i)},
              {"extension",
               {{{"url",
                  "https://fhir.hl7.org.uk/StructureDefinition/"
                  "Extension-UKCore-NHSNumberVerificationStatus"},
                 {"valueCodeableConcept",
                  {{"coding", {{{"code", "01"}}}}}}}}}}}},
           {"name",
            {{{"use", "official"},
              {"family", "Ó Súilleabháin"},
              {"given", {"Zoë", "Renée"}}}}},
           {"gender", "female"},
           {"birthDate", "2024-10-27"},
           {"address",
            {{{"line", {"Flat 2", "14 Mill Lane"}},
              {"city", "Stockton-on-Tees"},
              {"postalCode", "TS18 1AA"}}}}}}});
  }
  const std::string body = bundle.dump();
  double jparse_s = 1e9, fmap_s = 1e9, aparse_s = 1e9;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = ::ehx::bench::Now();
    auto doc = nlohmann::json::parse(body, nullptr, false);
    ok += doc.size();
    auto t1 = ::ehx::bench::Now();
    std::vector<MappedRecord> records;
    std::string error;
    MapFhir(body, MapOptions(), &records, &error);
    ok += records.size();
    auto t2 = ::ehx::bench::Now();
    jparse_s = std::min(jparse_s, Seconds(t0, t1));
    fmap_s = std::min(fmap_s, Seconds(t1, t2));
    // The parse as MapFhir does it: same parser, arena allocator
    // (ehx_sdk/arena_json.h), tree dropped whole.
    auto t3 = ::ehx::bench::Now();
    {
      ehx::sdk::ArenaJsonDocument adoc(body.size());
      ok += adoc.Parse(body) ? 1 : 0;
    }
    auto t4 = ::ehx::bench::Now();
    aparse_s = std::min(aparse_s, Seconds(t3, t4));
  }
  const double fmb = body.size() / 1e6;
  std::printf("fhir: %d patients, %.2f MB\n", n, fmb);
  std::printf("fhir_json_parse_only: %.0f records/s, %.1f MB/s\n", n / jparse_s,
              fmb / jparse_s);
  std::printf("fhir_parse_map: %.0f records/s, %.1f MB/s\n", n / fmap_s,
              fmb / fmap_s);
  std::printf("health_total_vs_parse_ratio=%.2f\n", fmap_s / jparse_s);
  std::printf("health_mapping_vs_parse_ratio=%.2f\n",
              std::max(0.0, fmap_s - jparse_s) / jparse_s);
  // Stricter: against the parse as the adapter itself does it, so a
  // cheaper parse is not counted as cheaper mapping.
  std::printf("fhir_arena_parse_only: %.0f records/s, %.1f MB/s\n",
              n / aparse_s, fmb / aparse_s);
  std::printf("health_fhir_mapping_vs_arena_parse_ratio=%.2f\n",
              std::max(0.0, fmap_s - aparse_s) / aparse_s);
  return ok == 0;
}
