// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers around static inline functions and macros that Rust cannot call.
 * Each one is a single expression; the safety contract is the wrapped one's.
 */
#include "../../include/dm_remap_bindings.h"

void dm_remap_bio_associate_blkg(struct bio *bio)
{
	bio_associate_blkg(bio);
}

sector_t dm_remap_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

unsigned int dm_remap_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

dev_t dm_remap_bdev_devt(struct block_device *bdev)
{
	return bdev->bd_dev;
}

blk_mode_t dm_remap_table_mode(struct dm_target *ti)
{
	return dm_table_get_mode(ti->table);
}

void dm_remap_limits_set_logical_block_size(struct queue_limits *limits,
					    unsigned int size)
{
	if (limits->logical_block_size < size)
		limits->logical_block_size = size;
	if (limits->physical_block_size < limits->logical_block_size)
		limits->physical_block_size = limits->logical_block_size;
	if (limits->io_min < limits->logical_block_size)
		limits->io_min = limits->logical_block_size;
}

void dm_remap_bio_io_error(struct bio *bio)
{
	bio_io_error(bio);
}

void dm_remap_submit_kept_bio(struct bio *bio)
{
	dm_submit_bio_remap(bio, NULL);
}

void dm_remap_rcu_read_lock(void)
{
	rcu_read_lock();
}

void dm_remap_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void dm_remap_synchronize_rcu(void)
{
	synchronize_rcu_expedited();
}

unsigned int dm_remap_noio_save(void)
{
	return memalloc_noio_save();
}

void dm_remap_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

void dm_remap_msleep(unsigned int ms)
{
	msleep(ms);
}

int dm_remap_sync_io(struct block_device *bdev, sector_t sector, void *buf,
		     unsigned int len, bool write, bool fua)
{
	blk_opf_t opf = write ? REQ_OP_WRITE | (fua ? REQ_FUA | REQ_SYNC : 0) : REQ_OP_READ;
	unsigned int nr_pages = DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE);
	struct bio *bio;
	int ret;

	if (!len || nr_pages > BIO_MAX_VECS)
		return -EINVAL;
	bio = bio_alloc(bdev, nr_pages, opf, GFP_NOIO);
	bio->bi_iter.bi_sector = sector;
	while (len) {
		unsigned int off = offset_in_page(buf);
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE - off);

		__bio_add_page(bio, virt_to_page(buf), n, off);
		buf += n;
		len -= n;
	}
	ret = submit_bio_wait(bio);
	bio_put(bio);
	return ret;
}

int dm_remap_flush(struct block_device *bdev)
{
	return blkdev_issue_flush(bdev);
}

void dm_remap_random_bytes(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

struct workqueue_struct *dm_remap_alloc_workqueue(const char *name)
{
	return alloc_workqueue("%s", WQ_MEM_RECLAIM, 1, name);
}

void dm_remap_destroy_workqueue(struct workqueue_struct *wq)
{
	destroy_workqueue(wq);
}

void dm_remap_init_work(struct work_struct *work, work_func_t fn)
{
	INIT_WORK(work, fn);
}

bool dm_remap_queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work(wq, work);
}

int dm_remap_bio_copy(struct bio *bio, const struct bvec_iter *iter,
		      unsigned int offset, void *buf, unsigned int len, bool to_bio)
{
	struct bvec_iter start = *iter, it;
	struct bio_vec bv;

	if (offset > start.bi_size || len > start.bi_size - offset)
		return -EINVAL;
	bio_advance_iter(bio, &start, offset);
	start.bi_size = len;
	__bio_for_each_segment(bv, bio, it, start) {
		if (to_bio)
			memcpy_to_bvec(&bv, buf);
		else
			memcpy_from_bvec(buf, &bv);
		buf += bv.bv_len;
	}
	return 0;
}

void dm_remap_bio_complete(struct bio *bio, blk_status_t status)
{
	bio->bi_status = status;
	bio_endio(bio);
}

void dm_remap_table_event(struct dm_target *ti)
{
	dm_table_event(ti->table);
}

void dm_remap_flush_workqueue(struct workqueue_struct *wq)
{
	flush_workqueue(wq);
}

u64 *dm_remap_percpu_alloc(unsigned int n)
{
	return (u64 *)__alloc_percpu(n * sizeof(u64), sizeof(u64));
}

void dm_remap_percpu_free(u64 *counters)
{
	free_percpu((u64 __percpu *)counters);
}

void dm_remap_percpu_add(u64 *counters, unsigned int i, s64 v)
{
	this_cpu_add(((u64 __percpu *)counters)[i], v);
}

s64 dm_remap_percpu_add_return(u64 *counters, unsigned int i, s64 v)
{
	return (s64)this_cpu_add_return(((u64 __percpu *)counters)[i], v);
}

s64 dm_remap_percpu_sum(u64 *counters, unsigned int i)
{
	s64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += (s64)*per_cpu_ptr(&((u64 __percpu *)counters)[i], cpu);
	return sum;
}

void dm_remap_percpu_zero(u64 *counters, unsigned int i)
{
	int cpu;

	for_each_possible_cpu(cpu)
		*per_cpu_ptr(&((u64 __percpu *)counters)[i], cpu) = 0;
}

u64 dm_remap_now_ns(void)
{
	return local_clock();
}

bool dm_remap_log_allowed(struct dm_remap_ratelimit *rl, const char *site)
{
	if (atomic_read_acquire(&rl->ready) != 2) {
		/* Another CPU is initialising it: too busy to log, as
		 * ___ratelimit says of a contended state. */
		if (atomic_cmpxchg(&rl->ready, 0, 1) != 0)
			return false;
		ratelimit_default_init(&rl->rs);
		atomic_set_release(&rl->ready, 2);
	}
	return ___ratelimit(&rl->rs, site);
}

static DEFINE_MUTEX(dm_remap_claims_mutex);

void dm_remap_claims_lock(void)
{
	mutex_lock(&dm_remap_claims_mutex);
}

void dm_remap_claims_unlock(void)
{
	mutex_unlock(&dm_remap_claims_mutex);
}
