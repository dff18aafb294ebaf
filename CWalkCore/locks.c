/* locks.c - the mmap_lock, page-table locks, per-VMA and i_mmap locks, and their assertions. */
#include "internal.h"

/*
 * The kernel's rwsem queues new readers behind a waiting writer; glibc's
 * default rwlock lets a stream of readers starve writers for ever.  Ask
 * for the kernel's behaviour where the C library offers it.
 */
void pw_mmap_lock_init(pthread_rwlock_t *lock)
{
#if defined(__GLIBC__)
	pthread_rwlockattr_t attr;

	if (pthread_rwlockattr_init(&attr) == 0) {
		pthread_rwlockattr_setkind_np(
			&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(lock, &attr);
		pthread_rwlockattr_destroy(&attr);
		return;
	}
#endif
	pthread_rwlock_init(lock, NULL);
}

void pw_mm_set_lock_state(struct mm_struct *mm, enum pw_lock_state state)
{
	atomic_store(&mm->readers, state == PW_LOCK_READ ? 1 : 0);
	atomic_store(&mm->writer, state == PW_LOCK_WRITE ? 1 : 0);
}

enum pw_lock_state pw_mm_lock_state(const struct mm_struct *mm)
{
	if (atomic_load(&((struct mm_struct *)mm)->writer))
		return PW_LOCK_WRITE;
	if (atomic_load(&((struct mm_struct *)mm)->readers))
		return PW_LOCK_READ;
	return PW_LOCK_NONE;
}

void pw_mmap_read_lock(struct mm_struct *mm)
{
	pthread_rwlock_rdlock(&mm->mmap_lock);
	atomic_fetch_add(&mm->readers, 1);
}

void pw_mmap_read_unlock(struct mm_struct *mm)
{
	atomic_fetch_sub(&mm->readers, 1);
	pthread_rwlock_unlock(&mm->mmap_lock);
}

void pw_mmap_write_lock(struct mm_struct *mm)
{
	pthread_rwlock_wrlock(&mm->mmap_lock);
	atomic_store(&mm->writer, 1);
}

void pw_mmap_write_unlock(struct mm_struct *mm)
{
	atomic_store(&mm->writer, 0);
	pthread_rwlock_unlock(&mm->mmap_lock);
}

_Thread_local long pw_ptl_held_count;

long pw_ptl_held_by_thread(void)
{
	return pw_ptl_held_count;
}

bool pw_spin_is_locked(const spinlock_t *ptl)
{
	return atomic_load(&((spinlock_t *)ptl)->v) != 0;
}

void pw_spin_lock(spinlock_t *ptl)
{
	pw_spin_lock_inline(ptl);
}

void pw_spin_unlock(spinlock_t *ptl)
{
	pw_spin_unlock_inline(ptl);
}

spinlock_t *pw_table_lock(struct pw_machine *m, uint64_t *p)
{
	return pw_table_lock_inline(m, p);
}

spinlock_t *pw_mm_page_table_lock(struct mm_struct *mm)
{
	return &mm->page_table_lock;
}

int pw_i_mmap_assert_held_at(struct address_space *mapping, const char *where)
{
	if (atomic_load(&mapping->i_mmap_held))
		return 0;
	return pw_assert_fail(mapping->m, NULL, PW_ASSERT_I_MMAP_HELD, where);
}

int pw_mmap_assert_locked_at(struct mm_struct *mm, const char *where)
{
	if (pw_mm_lock_state(mm) != PW_LOCK_NONE)
		return 0;
	return pw_assert_fail(mm->m, mm, PW_ASSERT_MMAP_LOCKED, where);
}

int pw_mmap_assert_write_locked_at(struct mm_struct *mm, const char *where)
{
	if (pw_mm_lock_state(mm) == PW_LOCK_WRITE)
		return 0;
	return pw_assert_fail(mm->m, mm, PW_ASSERT_MMAP_WRITE_LOCKED, where);
}

int pw_vma_start_write_at(struct vm_area_struct *vma, const char *where)
{
	struct pw_event ev = { .kind = PW_EVENT_VMA_START_WRITE,
			       .vma = vma,
			       .mm = vma->vm_mm,
			       .where = where };
	int err = pw_mmap_assert_write_locked_at(vma->vm_mm, where);

	if (err)
		return err;
	pw_emit(vma->vm_mm->m, &ev);
	vma->lock_state = PW_LOCK_WRITE;
	return 0;
}

int pw_vma_assert_locked_at(struct vm_area_struct *vma, const char *where)
{
	if (vma->lock_state != PW_LOCK_NONE)
		return 0;
	return pw_assert_fail(vma->vm_mm->m, vma->vm_mm, PW_ASSERT_VMA_LOCKED,
			      where);
}

int pw_vma_assert_write_locked_at(struct vm_area_struct *vma, const char *where)
{
	if (vma->lock_state == PW_LOCK_WRITE)
		return 0;
	return pw_assert_fail(vma->vm_mm->m, vma->vm_mm,
			      PW_ASSERT_VMA_WRITE_LOCKED, where);
}

int pw_i_mmap_assert_held(struct address_space *mapping)
{
	return pw_i_mmap_assert_held_at(mapping, NULL);
}

int pw_mmap_assert_locked(struct mm_struct *mm)
{
	return pw_mmap_assert_locked_at(mm, NULL);
}

int pw_mmap_assert_write_locked(struct mm_struct *mm)
{
	return pw_mmap_assert_write_locked_at(mm, NULL);
}

int pw_vma_start_write(struct vm_area_struct *vma)
{
	return pw_vma_start_write_at(vma, NULL);
}

int pw_vma_assert_locked(struct vm_area_struct *vma)
{
	return pw_vma_assert_locked_at(vma, NULL);
}

int pw_vma_assert_write_locked(struct vm_area_struct *vma)
{
	return pw_vma_assert_write_locked_at(vma, NULL);
}

void pw_vma_set_lock_state(struct vm_area_struct *vma, enum pw_lock_state state)
{
	vma->lock_state = state;
}

void pw_mapping_set_i_mmap_held(struct address_space *mapping, bool held)
{
	atomic_store(&mapping->i_mmap_held, held ? 1 : 0);
}
