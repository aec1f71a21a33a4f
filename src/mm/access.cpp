// The process's own loads and stores: through the CPU's TLB, a hardware-style page walk
// on a miss, and a page fault when the walk finds nothing usable.
#include <cerrno>

#include "machine/counters.h"
#include "mm/mm.h"
#include "tlb/tlbflush.h"

GUPFAST_NS_BEGIN

namespace {

// The hardware page walker: lockless, one 8-byte load per level (PAE entries too: the MMU
// does not tear them, unlike ptep_get_lockless's two halves), next level from the loaded
// copy; sets accessed/dirty with a locked update as x86 does. Races with every writer of
// the tables; safe because it runs inside an access ([TLB-ACCESS]): frees of tables and
// frames wait for the TLB flush, and the flush waits for in-flight accesses (broadcast)
// or for the IPI this access holds off (ipi).
bool hw_walk(mm_struct* mm, unsigned long addr, bool write, pteval_t* out) {
  for (;;) {
    pgd_t* pgdp = pgd_offset_pgd(mm->pgd, addr);
    pgd_t pgd = pgdp_get(pgdp);
    page_table_check_walk_read(pgdp, pgd.pgd);
    if (!pgd_present(pgd)) return false;
    pud_t* pudp = pud_offset_lockless(pgd, addr);
    pud_t pud = pudp_get(pudp);
    page_table_check_walk_read(pudp, pud.pud);
    if (!pud_present(pud)) return false;
    pmd_t* pmdp = pmd_offset_lockless(pud, addr);
    pmd_t pmd = pmdp_get_hw(pmdp);
    page_table_check_walk_read(pmdp, pmd.pmd);
    if (!pmd_present(pmd)) return false;
    if (pmd_leaf(pmd)) {
      if (!pmd_access_permitted(pmd, write)) return false;
      pteval_t want = pmd.pmd | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
      if (want != pmd.pmd && !pmdp_cmpxchg(pmdp, pmd, {want})) continue;
      // The 4 KiB translation inside the 2 MiB leaf.
      unsigned long pfn = pmd_pfn(pmd) + pte_index(addr);
      *out = (want & ~(PTE_PFN_MASK | _PAGE_PSE)) | (pteval_t(pfn) << PAGE_SHIFT);
      return true;
    }
    pte_t* ptep = pte_offset_lockless(pmd, addr);
    pte_t pte = ptep_get_hw(ptep);
    page_table_check_walk_read(ptep, pte.pte);
    if (!pte_access_permitted(pte, write)) return false;
    pteval_t want = pte.pte | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
    if (want != pte.pte && !ptep_cmpxchg(ptep, pte, {want})) continue;
    *out = want;
    return true;
  }
}

// The hardware's side of one access: the TLB, the page walk on a miss, the frame. False: a
// page fault. Strongly ordered under the explorer's weak memory models, as a TLB shootdown is
// synchronous (docs/memory-model.md); the fault that follows is the kernel's, and is not.
bool hw_access(mm_struct* mm, unsigned long addr, bool write, uint8_t* val) {
  sync::hardware_access hw;
  unsigned long irq = tlb_access_begin();
  page_table_check_walk_begin();
  uint64_t gen = mm->tlb_gen.load(sync::relaxed);
  pteval_t pte;
  // A store through a cached translation whose dirty bit is clear re-walks to set it,
  // as x86 does (otherwise a shared page written after a read fault stays clean).
  bool hit = tlb_lookup(mm, addr, gen, &pte) && pte_access_permitted({pte}, write) &&
             (!write || pte_dirty({pte}));
  bool ok = hit || hw_walk(mm, addr, write, &pte);
  if (ok) {
    if (!hit) tlb_fill(mm, addr, gen, pte);
    unsigned long pfn = pte_pfn({pte});
    unsigned off = addr & (PAGE_SIZE - 1);
    sync::yield_point("mm_access:translated");
    // The oracle's frame-uaf check: this frame must still be what addr mapped.
    page_table_check_user_access(mm, addr, pfn, write);
    if (write)
      frame_write_byte(pfn, off, *val);
    else
      *val = frame_read_byte(pfn, off);
    count_event(hit ? CNT_tlb_hits : CNT_tlb_misses);
  }
  tlb_access_end(irq);
  return ok;
}

int mm_access(mm_struct* mm, unsigned long addr, bool write, uint8_t* val) {
  if (!mm || !sync::this_cpu()) return -EINVAL;
  if (addr >= TASK_SIZE) return -EFAULT;
  switch_mm(mm);
  for (;;) {
    if (hw_access(mm, addr, write, val)) return 0;
    // Page fault: the kernel's do_user_addr_fault -> handle_mm_fault.
    mm->mmap_lock.down_read();
    vm_area_struct* vma = vma_lookup(mm, addr);
    if (!vma || !vma_access_permitted(vma, write)) {
      mm->mmap_lock.up_read();
      return -EFAULT;  // SIGSEGV
    }
    vm_fault_t ret = handle_mm_fault(vma, addr & PAGE_MASK, write ? FAULT_FLAG_WRITE : 0);
    mm->mmap_lock.up_read();
    if (ret & VM_FAULT_OOM) return -ENOMEM;
    if (ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -EFAULT;
  }
}

}  // namespace

int mm_load(mm_struct* mm, unsigned long addr, uint8_t* val) { return mm_access(mm, addr, false, val); }
int mm_store(mm_struct* mm, unsigned long addr, uint8_t val) { return mm_access(mm, addr, true, &val); }

GUPFAST_NS_END
