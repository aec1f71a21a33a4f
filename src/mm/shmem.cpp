// Shared anonymous memory (mm/shmem.c, reduced): a page cache of zeroed folios.
#include "mm/mm.h"

GUPFAST_NS_BEGIN

void shmem_get(shmem_object* s) { s->refs.fetch_add(1, sync::relaxed); }

void shmem_put(shmem_object* s) {
  if (s->refs.fetch_sub(1, sync::acq_rel) != 1) return;
  // The last mapping is gone: drop the cache's reference on every folio. Pinned folios
  // stay allocated until their pins are released.
  for (auto& [index, f] : s->cache) folio_put(f);
  delete s;
}

folio* shmem_get_folio(shmem_object* s, unsigned long index) {
  sync::spin_lock(&s->lock);
  auto it = s->cache.find(index);
  if (it != s->cache.end()) {
    folio* f = it->second;
    folio_get(f);
    sync::spin_unlock(&s->lock);
    return f;
  }
  sync::spin_unlock(&s->lock);
  folio* nf = folio_alloc(__GFP_ZERO, 0);
  if (!nf) return nullptr;
  nf->page.mapping.store(reinterpret_cast<unsigned long>(s), sync::relaxed);
  nf->page.index.store(index, sync::relaxed);
  sync::smp_wmb();  // zeroed contents before anyone can find it
  folio_set_uptodate(nf);
  sync::spin_lock(&s->lock);
  auto [pos, inserted] = s->cache.emplace(index, nf);
  folio* f = pos->second;
  folio_get(f);  // the caller's reference; the cache keeps the allocation's
  sync::spin_unlock(&s->lock);
  if (!inserted) folio_put(nf);
  return f;
}

GUPFAST_NS_END
