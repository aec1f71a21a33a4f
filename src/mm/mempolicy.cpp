// mbind(2) and policy-directed allocation (mm/mempolicy.c).
#include "mm/mempolicy.h"

#include <cerrno>

#include "memmap/memmap.h"
#include "mm/mm.h"
#include "mm/vma.h"

GUPFAST_NS_BEGIN

int do_mbind(mm_struct* mm, unsigned long start, unsigned long len, int mode, int nid) {
  if (!mm) return -EINVAL;
  if (mode != MPOL_DEFAULT_ && mode != MPOL_PREFERRED_) return -EINVAL;
  if (mode == MPOL_PREFERRED_ && (nid < 0 || nid >= nr_online_nodes)) return -EINVAL;
  if (!range_ok(start, len)) return -EINVAL;
  unsigned long end = start + ((len + PAGE_SIZE - 1) & PAGE_MASK);
  mm->mmap_lock.down_write();
  if (!split_range(mm, start, end)) {
    mm->mmap_lock.up_write();
    return -EFAULT;
  }
  for (vm_area_struct* v = find_vma(mm, start); v && v->vm_start < end; v = find_vma(mm, v->vm_end))
    v->vm_policy_nid = mode == MPOL_PREFERRED_ ? nid : NUMA_NO_NODE;
  mm->mmap_lock.up_write();
  return 0;
}

folio* vma_alloc_folio(gfp_t gfp, int order, const vm_area_struct* vma, unsigned long) {
  int nid = vma && vma->vm_policy_nid != NUMA_NO_NODE ? vma->vm_policy_nid : numa_node_id();
  return __folio_alloc_node(gfp, order, nid);
}

GUPFAST_NS_END
