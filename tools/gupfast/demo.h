// `gupfast demo`: a short scripted workload on one machine, printed as it runs.
#pragma once
#include "cli.h"

namespace gupfast::cli {

struct demo_options {
  machine_options machine;
  machine_config cfg;  // from `machine`, checked when parsing finished
};

// Runs the script; returns 0, or EXIT_RUN_FAILED if a step or the leak check failed.
int run_demo(const demo_options& opts);

}  // namespace gupfast::cli
