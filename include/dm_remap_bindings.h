/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C surface dm-remap uses: bindgen reads this header (with the kernel's own
 * C flags) to generate generated/dm_bindings.rs. Linux 6.12's kernel crate
 * has no device-mapper bindings, so the module generates its own.
 *
 * Static inline functions and macros cannot be called from Rust; the
 * dm_remap_* helpers below wrap them and live in src/dm/helpers.c.
 */
#ifndef DM_REMAP_BINDINGS_H
#define DM_REMAP_BINDINGS_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/rcupdate.h>
#include <linux/delay.h>
#include <linux/sched/mm.h>
#include <linux/random.h>
#include <linux/workqueue.h>
#include <linux/percpu.h>
#include <linux/sched/clock.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/capability.h>
#include <linux/ratelimit.h>
#include <linux/mutex.h>

/*
 * bio_associate_blkg(), the one call in bio_set_dev() (a static inline that
 * Bio::redirect does in Rust) when CONFIG_BLK_CGROUP is set.
 */
void dm_remap_bio_associate_blkg(struct bio *bio);
/*
 * What the I/O path can do inline, without a helper call:
 * - DM_REMAP_RCU_READ_LOCK_IS_BARRIER: rcu_read_lock() and rcu_read_unlock()
 *   are a compiler barrier and nothing else (non-preemptible RCU, no
 *   preempt count, no lockdep or strict grace periods: see rcupdate.h and
 *   preempt.h);
 * - DM_REMAP_BLK_CGROUP: bio_set_dev() also associates the bio with a blkcg
 *   (bio_associate_blkg(), an exported function), which the inline version
 *   then calls.
 */
enum dm_remap_config {
	DM_REMAP_RCU_READ_LOCK_IS_BARRIER = !IS_ENABLED(CONFIG_PREEMPT_RCU) &&
		!IS_ENABLED(CONFIG_PREEMPT_COUNT) &&
		!IS_ENABLED(CONFIG_DEBUG_LOCK_ALLOC) &&
		!IS_ENABLED(CONFIG_PROVE_RCU) &&
		!IS_ENABLED(CONFIG_RCU_STRICT_GRACE_PERIOD),
	DM_REMAP_BLK_CGROUP = IS_ENABLED(CONFIG_BLK_CGROUP),
};
/*
 * Masks of bio->bi_opf: the operation and REQ_PREFLUSH (macros with casts,
 * which bindgen does not evaluate), so that map() reads them without a call.
 */
enum dm_remap_opf {
	DM_REMAP_REQ_OP_MASK = REQ_OP_MASK,
	DM_REMAP_REQ_PREFLUSH = REQ_PREFLUSH,
};
/*
 * The blk_status_t values (macros with __force casts, which bindgen does not
 * evaluate), for the BlkStatus newtype of src/dm/blk_status.rs.
 */
enum dm_remap_blk_sts {
	DM_REMAP_BLK_STS_OK = BLK_STS_OK,
	DM_REMAP_BLK_STS_NOTSUPP = BLK_STS_NOTSUPP,
	DM_REMAP_BLK_STS_TIMEOUT = BLK_STS_TIMEOUT,
	DM_REMAP_BLK_STS_NOSPC = BLK_STS_NOSPC,
	DM_REMAP_BLK_STS_TRANSPORT = BLK_STS_TRANSPORT,
	DM_REMAP_BLK_STS_TARGET = BLK_STS_TARGET,
	DM_REMAP_BLK_STS_RESV_CONFLICT = BLK_STS_RESV_CONFLICT,
	DM_REMAP_BLK_STS_MEDIUM = BLK_STS_MEDIUM,
	DM_REMAP_BLK_STS_PROTECTION = BLK_STS_PROTECTION,
	DM_REMAP_BLK_STS_RESOURCE = BLK_STS_RESOURCE,
	DM_REMAP_BLK_STS_IOERR = BLK_STS_IOERR,
	DM_REMAP_BLK_STS_DM_REQUEUE = BLK_STS_DM_REQUEUE,
	DM_REMAP_BLK_STS_AGAIN = BLK_STS_AGAIN,
	DM_REMAP_BLK_STS_DEV_RESOURCE = BLK_STS_DEV_RESOURCE,
	DM_REMAP_BLK_STS_ZONE_OPEN_RESOURCE = BLK_STS_ZONE_OPEN_RESOURCE,
	DM_REMAP_BLK_STS_ZONE_ACTIVE_RESOURCE = BLK_STS_ZONE_ACTIVE_RESOURCE,
	DM_REMAP_BLK_STS_OFFLINE = BLK_STS_OFFLINE,
	DM_REMAP_BLK_STS_DURATION_LIMIT = BLK_STS_DURATION_LIMIT,
	DM_REMAP_BLK_STS_INVAL = BLK_STS_INVAL,
};
/* Size of @bdev in 512-byte sectors. */
sector_t dm_remap_bdev_nr_sectors(struct block_device *bdev);
/* Logical block size of @bdev in bytes. */
unsigned int dm_remap_bdev_logical_block_size(struct block_device *bdev);
/* dev_t of @bdev. */
dev_t dm_remap_bdev_devt(struct block_device *bdev);
/* The open mode of the table @ti belongs to. */
blk_mode_t dm_remap_table_mode(struct dm_target *ti);
/* Bitfield setters of struct dm_target. */
/* Raise the logical block size limit of a table to @size bytes. */
void dm_remap_limits_set_logical_block_size(struct queue_limits *limits,
					    unsigned int size);

/* Complete @bio with an I/O error. */
void dm_remap_bio_io_error(struct bio *bio);
/* Submit a bio that map() kept (returned DM_MAPIO_SUBMITTED for) earlier. */
void dm_remap_submit_kept_bio(struct bio *bio);
/* RCU read-side critical section and grace period (static inlines/macros). */
void dm_remap_rcu_read_lock(void);
void dm_remap_rcu_read_unlock(void);
void dm_remap_synchronize_rcu(void);
/* Enter and leave a scope in which allocations behave as GFP_NOIO. */
unsigned int dm_remap_noio_save(void);
void dm_remap_noio_restore(unsigned int flags);
/* Sleep for about @ms milliseconds. */
void dm_remap_msleep(unsigned int ms);
/*
 * Synchronous I/O of @len bytes at @sector of @bdev from or into @buf, which
 * must be kmalloc'ed (physically contiguous); @fua makes a write durable on
 * completion. Returns 0 or a negative errno.
 */
int dm_remap_sync_io(struct block_device *bdev, sector_t sector, void *buf,
		     unsigned int len, bool write, bool fua);
/* Flush @bdev's volatile write cache; returns 0 or a negative errno. */
int dm_remap_flush(struct block_device *bdev);
/* Fill @buf with @len random bytes. */
void dm_remap_random_bytes(void *buf, size_t len);
/* A workqueue that may run during memory reclaim (WQ_MEM_RECLAIM). */
struct workqueue_struct *dm_remap_alloc_workqueue(const char *name);
void dm_remap_destroy_workqueue(struct workqueue_struct *wq);
void dm_remap_init_work(struct work_struct *work, work_func_t fn);
void dm_remap_flush_workqueue(struct workqueue_struct *wq);
bool dm_remap_queue_work(struct workqueue_struct *wq, struct work_struct *work);
/*
 * Copy @len bytes at byte @offset of the data that @iter (saved from @bio)
 * describes to @buf (@to_bio false) or from @buf (@to_bio true). Returns 0,
 * or -EINVAL when the range is outside the data.
 */
int dm_remap_bio_copy(struct bio *bio, const struct bvec_iter *iter,
		      unsigned int offset, void *buf, unsigned int len, bool to_bio);
/* Complete a bio the target took over from end_io, with @status. */
void dm_remap_bio_complete(struct bio *bio, blk_status_t status);
/* Tell userspace (dmsetup wait, udev) that the target's state changed. */
void dm_remap_table_event(struct dm_target *ti);
/* Per-cpu arrays of @n 64-bit counters (zeroed); add, sum over CPUs, zero. */
u64 *dm_remap_percpu_alloc(unsigned int n);
void dm_remap_percpu_free(u64 *counters);
void dm_remap_percpu_add(u64 *counters, unsigned int i, s64 v);
s64 dm_remap_percpu_add_return(u64 *counters, unsigned int i, s64 v);
s64 dm_remap_percpu_sum(u64 *counters, unsigned int i);
void dm_remap_percpu_zero(u64 *counters, unsigned int i);
/* A fine-grained clock in nanoseconds (local_clock: the VM's ktime may tick in jiffies). */
u64 dm_remap_now_ns(void);
/*
 * sysfs (src/dm/sysfs.c): /sys/kernel/dm_remap, and one directory per
 * device with the attributes @attrs names (the names must outlive it), whose
 * reads and writes call @show and @store with @ctx and the attribute's index
 * in @attrs.
 */
struct dm_remap_kobj;
struct dm_remap_sysfs_attr {
	const char *name;
	umode_t mode;
};
typedef ssize_t (*dm_remap_sysfs_show_fn)(void *ctx, unsigned int id, char *buf, size_t size);
typedef ssize_t (*dm_remap_sysfs_store_fn)(void *ctx, unsigned int id, const char *buf, size_t len);
int dm_remap_sysfs_init(void);
void dm_remap_sysfs_exit(void);
struct dm_remap_kobj *dm_remap_sysfs_add(struct dm_target *ti, void *ctx,
					 dm_remap_sysfs_show_fn show,
					 dm_remap_sysfs_store_fn store,
					 const struct dm_remap_sysfs_attr *attrs,
					 unsigned int nr_attrs);
void dm_remap_sysfs_remove(struct dm_remap_kobj *d);
/* Wall-clock time, seconds since the epoch. */
s64 dm_remap_real_seconds(void);
/*
 * One call site's log rate limit: printk's default (DEFAULT_RATELIMIT_BURST
 * lines per DEFAULT_RATELIMIT_INTERVAL), as pr_warn_ratelimited keeps for
 * each of its call sites. Lives zeroed in a static and is initialised on
 * first use; @ready is 0 (zeroed), 1 (being initialised) or 2.
 */
struct dm_remap_ratelimit {
	struct ratelimit_state rs;
	atomic_t ready;
};
/* Whether a line may be logged now at @rl's call site @site (named in the
 * "callbacks suppressed" line). Any context. */
bool dm_remap_log_allowed(struct dm_remap_ratelimit *rl, const char *site);

/* The module-wide mutex over the registry of claimed devices (claim.rs). */
void dm_remap_claims_lock(void);
void dm_remap_claims_unlock(void);

#endif
