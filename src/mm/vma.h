// VMA helpers the syscalls share (mm/vma.h, mm's internal header): range checks and
// splitting. Context for all: mmap_lock held (for write where they change VMAs).
#pragma once
#include "mm/mm_types.h"

GUPFAST_NS_BEGIN

// A syscall's [addr, addr + len): page-aligned start, non-empty, no wrap when len is
// rounded up to pages, inside the user half.
bool range_ok(unsigned long addr, unsigned long len);
// Split so that a VMA boundary falls at addr (split_vma). Context: mmap_lock for write.
void split_vma_at(mm_struct* mm, unsigned long addr);
// Every page of [start, end) is in some VMA.
bool range_fully_mapped(mm_struct* mm, unsigned long start, unsigned long end);
// The start of mprotect and mbind (vma_modify): if [start, end) has no hole, split VMAs so
// that it is whole VMAs and return true; otherwise change nothing. Context: mmap_lock for write.
bool split_range(mm_struct* mm, unsigned long start, unsigned long end);

GUPFAST_NS_END
