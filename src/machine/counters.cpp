#include "machine/counters.h"

GUPFAST_NS_BEGIN

const char* const counter_names[NR_COUNTERS] = {
#define X(name) #name,
    GUPFAST_COUNTERS(X)
#undef X
};

GUPFAST_WORLD percpu_counters g_counters[sync::NR_CPUS + 1];

uint64_t counter_read(counter_id id) {
  uint64_t sum = 0;
  for (auto& c : g_counters) sum += c.v[id].read();
  return sum;
}

void counters_reset() {
  for (auto& c : g_counters)
    for (auto& v : c.v) v.reset();
}

GUPFAST_NS_END
