// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/dm_remap/<dm name>/: one kobject per active dm-remap device.
 * The attribute names and modes live here; what they show and accept is the
 * target's (show and store callbacks passed in by src/dm/sysfs.rs).
 */
#include "../../include/dm_remap_bindings.h"

struct dm_remap_attr {
	struct attribute attr;
	unsigned int id;
};

struct dm_remap_kobj {
	struct kobject kobj;
	void *ctx;
	dm_remap_sysfs_show_fn show;
	dm_remap_sysfs_store_fn store;
};

#define RO(n, i) { .attr = { .name = n, .mode = 0444 }, .id = i }
#define RW(n, i) { .attr = { .name = n, .mode = 0644 }, .id = i }

/* Ids are the index in this table; src/remap/sysfs.rs names the same ones. */
static struct dm_remap_attr dm_remap_attrs[] = {
	RO("remaps", 0), RO("pending", 1), RO("spare_total", 2), RO("spare_used", 3),
	RO("health", 4), RO("generation", 5), RO("uuid", 6), RO("metadata_copies", 7),
	RO("reads", 8), RO("writes", 9), RO("remapped_reads", 10), RO("remapped_writes", 11),
	RO("errors", 12), RO("auto_remaps", 13), RO("soft_read_errors", 14),
	RO("unrecovered_errors", 15), RO("commit_p50_us", 16), RO("commit_p99_us", 17),
	RO("last_commit_time", 18),
	RW("auto_remap", 19), RW("read_retries", 20), RW("error_threshold", 21),
	RW("spare_warn", 22), RW("spare_crit", 23),
	RO("latency_histogram", 24), RO("read_errors", 25), RO("write_errors", 26),
};

static struct attribute *dm_remap_attr_attrs[ARRAY_SIZE(dm_remap_attrs) + 1];
ATTRIBUTE_GROUPS(dm_remap_attr);

static struct kobject *dm_remap_root;

static ssize_t dm_remap_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)
{
	struct dm_remap_kobj *d = container_of(kobj, struct dm_remap_kobj, kobj);
	struct dm_remap_attr *a = container_of(attr, struct dm_remap_attr, attr);

	return d->show(d->ctx, a->id, buf, PAGE_SIZE);
}

static ssize_t dm_remap_attr_store(struct kobject *kobj, struct attribute *attr,
				   const char *buf, size_t len)
{
	struct dm_remap_kobj *d = container_of(kobj, struct dm_remap_kobj, kobj);
	struct dm_remap_attr *a = container_of(attr, struct dm_remap_attr, attr);

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return d->store(d->ctx, a->id, buf, len);
}

static const struct sysfs_ops dm_remap_sysfs_ops = {
	.show = dm_remap_attr_show,
	.store = dm_remap_attr_store,
};

static void dm_remap_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct dm_remap_kobj, kobj));
}

static const struct kobj_type dm_remap_ktype = {
	.sysfs_ops = &dm_remap_sysfs_ops,
	.release = dm_remap_kobj_release,
	.default_groups = dm_remap_attr_groups,
};

int dm_remap_sysfs_init(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dm_remap_attrs); i++)
		dm_remap_attr_attrs[i] = &dm_remap_attrs[i].attr;
	dm_remap_root = kobject_create_and_add("dm_remap", kernel_kobj);
	return dm_remap_root ? 0 : -ENOMEM;
}

void dm_remap_sysfs_exit(void)
{
	kobject_put(dm_remap_root);
}

struct dm_remap_kobj *dm_remap_sysfs_add(struct dm_target *ti, void *ctx,
					 dm_remap_sysfs_show_fn show,
					 dm_remap_sysfs_store_fn store)
{
	char name[DM_NAME_LEN];
	struct dm_remap_kobj *d;

	/* The name userspace gave the device (dm_device_name is major:minor). */
	if (dm_copy_name_and_uuid(dm_table_get_md(ti->table), name, NULL))
		return NULL;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return NULL;
	d->ctx = ctx;
	d->show = show;
	d->store = store;
	if (kobject_init_and_add(&d->kobj, &dm_remap_ktype, dm_remap_root, "%s", name)) {
		kobject_put(&d->kobj);
		return NULL;
	}
	return d;
}

void dm_remap_sysfs_remove(struct dm_remap_kobj *d)
{
	/* kobject_del waits for running show/store calls to finish. */
	kobject_del(&d->kobj);
	kobject_put(&d->kobj);
}

s64 dm_remap_real_seconds(void)
{
	return ktime_get_real_seconds();
}
