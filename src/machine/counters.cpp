#include "machine/counters.h"

GUPFAST_NS_BEGIN

const char* const counter_names[NR_COUNTERS] = {
#define X(name) #name,
    GUPFAST_COUNTERS(X)
#undef X
};

percpu_counters g_counters[sync::NR_CPUS + 1];

uint64_t counter_read(counter_id id) {
  uint64_t sum = 0;
  for (auto& c : g_counters) sum += c.v[id].load(sync::relaxed);
  return sum;
}

void counters_reset() {
  for (auto& c : g_counters)
    for (auto& v : c.v) v.store(0, sync::relaxed);
}

GUPFAST_NS_END
