// The address spaces a test fixture made: put at teardown (exit), unless put earlier.
#pragma once
#include <vector>

#include <gtest/gtest.h>

#include "mm/mm.h"

namespace gupfast::test {

class mm_owner {
 public:
  mm_struct* new_mm() {
    mm_struct* m = mm_alloc();
    EXPECT_NE(m, nullptr);
    mms_.push_back(m);
    return m;
  }
  // fork(): the child is put at teardown too.
  mm_struct* fork_mm(mm_struct* parent) {
    int err = 1;
    mm_struct* m = dup_mm(parent, &err);
    EXPECT_EQ(err, 0);
    EXPECT_NE(m, nullptr);
    mms_.push_back(m);
    return m;
  }
  // exit() now instead of at teardown.
  void put_mm(mm_struct* m) {
    for (auto& x : mms_)
      if (x == m) x = nullptr;
    mmput(m);
  }
  void put_all_mms() {
    for (mm_struct* m : mms_)
      if (m) mmput(m);
    mms_.clear();
  }

 private:
  std::vector<mm_struct*> mms_;
};

}  // namespace gupfast::test
