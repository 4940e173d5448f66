// The adapter benches' clock: wall-clock seconds, or this thread's CPU
// seconds when EHX_BENCH_CPU=1 (that moves far less when other work shares
// the machine; the same clock times both sides of a ratio).
#ifndef EHX_TESTS_BENCH_ADAPTERS_BENCH_CLOCK_H_
#define EHX_TESTS_BENCH_ADAPTERS_BENCH_CLOCK_H_

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace ehx::bench {

inline double Now() {
  static const bool cpu = [] {
    const char* v = std::getenv("EHX_BENCH_CPU");
    return v != nullptr && std::string(v) == "1";
  }();
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  }
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace ehx::bench

#endif  // EHX_TESTS_BENCH_ADAPTERS_BENCH_CLOCK_H_
