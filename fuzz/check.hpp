#pragma once
// FUZZ_CHECK: an invariant of a fuzz target. A broken one aborts, which
// libFuzzer reports as a crash and saves the input (scripts/fuzz.sh).
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)
