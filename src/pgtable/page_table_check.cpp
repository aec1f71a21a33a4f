// The checking hooks' state (pgtable/page_table_check.h): off unless an oracle installed them.
#include "pgtable/page_table_check.h"

GUPFAST_NS_BEGIN

GUPFAST_WORLD bool g_page_table_check = false;
GUPFAST_WORLD page_table_check_ops g_page_table_check_ops;

void page_table_check_install(const page_table_check_ops& ops) {
  g_page_table_check_ops = ops;
  g_page_table_check = ops.entry_write_begin != nullptr;
}

GUPFAST_NS_END
