// Both backends in one binary: the algorithm code compiled twice (gupfast::native and
// gupfast::model, inline namespaces) links and runs side by side, as in the gupfast CLI.
// This file is compiled against neither backend; each probe is.
#include <gtest/gtest.h>

namespace gupfast_link {
long native_probe();
long model_probe();
}  // namespace gupfast_link

TEST(ExploreLink, NativeAndModelInOneBinary) {
  EXPECT_EQ(gupfast_link::native_probe(), 0);
  long executions = gupfast_link::model_probe();
  EXPECT_GT(executions, 1);
  EXPECT_EQ(gupfast_link::native_probe(), 0);  // and the native machine still works after
}
