// The hardening suite's fixture (docs/errors.md): a GUP machine per strategy x pte mode with
// the oracle on, so that after every refused call the machine is checked as consistent: at
// teardown the oracle's end-of-run refcount check (no GUP reference or pin left behind)
// and the leak check (every frame back in the allocator) must pass, and the oracle must
// have reported exactly the violations the test caused on purpose (a refused unpin is
// reported through bad_page as a refcount violation).
#pragma once
#include "check/oracle.h"
#include "gup/gup_support.h"
#include "machine/counters.h"
#include "pgtable/page_table_check.h"

namespace gupfast::test {

class ContractTest : public GupParamTest {
 protected:
  // 128 MiB: room for THPs, and an oracle frame table that sanitizer builds set up quickly
  // (the default 8 GiB machine costs ~1.5 s per test under TSan).
  machine_config config() override {
    machine_config c = GupParamTest::config();
    c.frames = 1ul << 15;
    return c;
  }

  void SetUp() override {
    GupParamTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(check::oracle_start({}), 0);
    oracle_on_ = true;
    check::oracle_register_mm(mm);
  }

  void TearDown() override {
    if (oracle_on_) {
      check::oracle_unregister_mm(mm);
      check::oracle_finish();
      EXPECT_EQ(check::oracle_violation_count(), expected_violations_) << first_violation();
      EXPECT_EQ(check::oracle_violation_count(check::violation_kind::refcount), expected_violations_);
      check::oracle_stop();
    }
    GupParamTest::TearDown();
  }

  // Release a FOLL_GET reference as check/ops.cpp's op_release does: tell the oracle, then
  // put_page (which does not tell it: any reference may be put so).
  static void put_got_page(page* p) {
    page_table_check_gup_put(page_folio(p), 1);
    put_page(p);
  }

  // The test provoked n more reports on purpose (a refused unpin each).
  void expect_reports(uint64_t n) { expected_violations_ += n; }

  std::string first_violation() {
    auto v = check::oracle_violations();
    return v.empty() ? "(none)" : v[0].detail();
  }

 private:
  bool oracle_on_ = false;
  uint64_t expected_violations_ = 0;
};

}  // namespace gupfast::test
