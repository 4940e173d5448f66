// Supporting Families tracker throughput: parse + validate + map to
// envelopes versus the CSV tokenizer alone (the adapter's CSV parser is
// hand-written; see plugins/adapters/supporting_families/sf_csv.h).
//
//   ehx_supporting_families_bench [rows]   (default 20000)
// Prints records/s and MB/s of both and
// supporting_families_mapping_vs_parse_ratio=<(total - parse) / parse>.
// Best of 5 each; EHX_BENCH_CPU=1 times thread CPU instead of wall clock
// (bench_clock.h), like the other adapter benches.
#include <google/protobuf/arena.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "sf_csv.h"
#include "sf_tracker.h"

using namespace ehx::adapters::supporting_families;

namespace {

std::string Generate(int rows) {
  std::string out =
      "\xEF\xBB\xBFla_code,claim_window,family_ref,lead_practitioner_ref,"
      "lead_practitioner_service,date_identified,whole_family_assessment_date,"
      "family_plan_date,case_closure_date,sustainment_check_date,person_ref,"
      "role_in_family,surname,forename,dob,sex,nhs_number,upn,headline_"
      "outcome,family_need,need_evidence_source,baseline_value,baseline_date,"
      "outcome_value,outcome_date,outcome_achieved,sustained_6m_after_"
      "closure,claim_status,notes\r\n";
  const char* headlines[] = {"Getting a good education", "Financial stability",
                             "Improved mental and physical health",
                             "Secure housing"};
  const char* nhs[] = {"9990000018", "999 000 0026", "9990000034",
                       "9990000027"};
  char buf[1024];
  for (int i = 0; i < rows; ++i) {
    const int fam = i / 4;
    const int k = i % 4;
    std::snprintf(
        buf, sizeof(buf),
        "801,2026-Q2,SF801-%06d,LP-%04d,Early Help Team West,10/06/2024,"
        "2024-06-24,01/07/2024,15/03/2025,15/09/2025 00:00,P-%d-%02d,child,"
        "Ó Súilleabháin-Wiśniewski,Zoë,30/03/2015,F,%s,B801200005001,%s,"
        "Need %d,School attendance feed,\"Rent arrears £1,050\",31/05/2024,"
        "96.2%%,12/09/2025,Y,Y,claimable,\"Seen.\r\nChecked by "
        "\"\"audit\"\".\"\r\n",
        fam % 1000000, fam % 10000, fam, k, nhs[k], headlines[k], k);
    out += buf;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int rows = argc > 1 ? std::atoi(argv[1]) : 20000;
  const std::string file = Generate(rows);
  const double mb = file.size() / 1e6;
  const int iterations = 5;

  // Baseline: the tokenizer alone (no UTF-8 check, no rules, no mapping).
  using ::ehx::bench::Now;
  size_t fields = 0;
  double parse_s = 1e9;
  for (int it = 0; it < iterations; ++it) {
    const double t0 = Now();
    CsvParse p = ForEachCsvRecord(
        file, [&](const CsvRecord& r) { fields += r.fields.size(); });
    if (!p.error_rule.empty()) return 1;
    parse_s = std::min(parse_s, Now() - t0);
  }

  // The adapter's path: parse, validate, check, map, serialize.
  TrackerOptions options;
  options.la_code = "801";
  MapOptions map;
  size_t bytes_out = 0;
  int published = 0;
  double map_s = 1e9;
  for (int it = 0; it < iterations; ++it) {
    const double t0 = Now();
    auto report = IngestTracker(
        "sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv", file, options,
        map,
        [&](const ehxpb::exchange::v1::Envelope& env, const std::string&,
            ehxpb::adapter::v1::IngestReport*) {
          bytes_out += env.ByteSizeLong();
          ++published;
        });
    if (report.input_rejected()) return 1;
    map_s = std::min(map_s, Now() - t0);
  }

  // Floor: the least any mapping can cost is building the envelopes it
  // publishes. Time protobuf itself building the very same envelopes from
  // their wire bytes onto an arena (no CSV, no rules, no keys): if that
  // alone costs more than the tokenizer, "mapping <= parse" cannot hold for
  // one envelope per row, however the mapping is written.
  std::vector<std::string> wire;
  IngestTracker("sf-outcome-tracker-801-2026-Q2-20260612T153000Z.csv", file,
                options, map,
                [&](const ehxpb::exchange::v1::Envelope& env,
                    const std::string&, ehxpb::adapter::v1::IngestReport*) {
                  wire.push_back(env.SerializeAsString());
                });
  size_t floor_fields = 0;
  double floor_s = 1e9;
  for (int it = 0; it < iterations; ++it) {
    const double f0 = Now();
    {
      google::protobuf::Arena arena;
      for (const std::string& w : wire) {
        auto* env = google::protobuf::Arena::CreateMessage<
            ehxpb::exchange::v1::Envelope>(&arena);
        if (!env->ParseFromString(w)) return 1;
        floor_fields += env->has_outcome_evidence();
      }
    }
    floor_s = std::min(floor_s, Now() - f0);
  }

  std::printf("rows=%d bytes=%zu fields=%zu envelopes=%d\n", rows, file.size(),
              fields / iterations, published / iterations);
  std::printf("parse_only: %.0f records/s, %.1f MB/s\n", rows / parse_s,
              mb / parse_s);
  std::printf("parse_map:  %.0f records/s, %.1f MB/s\n", rows / map_s,
              mb / map_s);
  // The rule: "the mapping should cost no more than the parse",
  // i.e. (parse+map - parse) / parse <= 1. The total is printed too.
  std::printf("supporting_families_total_vs_parse_ratio=%.2f\n",
              map_s / parse_s);
  std::printf(
      "envelope_floor: %.0f envelopes/s (protobuf building the %zu published "
      "envelopes from their %zu wire bytes, best of %d)\n",
      wire.size() / floor_s, wire.size(),
      [&] {
        size_t n = 0;
        for (const auto& w : wire) n += w.size();
        return n;
      }(),
      iterations);
  std::printf("supporting_families_envelope_floor_vs_parse_ratio=%.2f\n",
              floor_s / parse_s);
  std::printf("supporting_families_mapping_vs_parse_ratio=%.2f\n",
              std::max(0.0, map_s - parse_s) / parse_s);
  return bytes_out > 0 ? 0 : 1;
}
