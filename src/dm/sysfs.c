// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/dm_remap/<dm name>/: one kobject per active dm-remap device,
 * with the attributes its caller names (names, modes), whose reads and
 * writes call the caller's show and store with the attribute's index
 * (src/dm/sysfs.rs passes them in).
 */
#include "../../include/dm_remap_bindings.h"

struct dm_remap_attr {
	struct attribute attr;
	unsigned int id;
};

/* One directory; its attributes are the caller's, in the caller's order. */
struct dm_remap_kobj {
	struct kobject kobj;
	void *ctx;
	dm_remap_sysfs_show_fn show;
	dm_remap_sysfs_store_fn store;
	struct attribute_group group;
	/* NULL-terminated, for @group. */
	struct attribute **attr_list;
	unsigned int nr_attrs;
	struct dm_remap_attr attrs[] __counted_by(nr_attrs);
};

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
	struct dm_remap_kobj *d = container_of(kobj, struct dm_remap_kobj, kobj);

	kfree(d->attr_list);
	kfree(d);
}

static const struct kobj_type dm_remap_ktype = {
	.sysfs_ops = &dm_remap_sysfs_ops,
	.release = dm_remap_kobj_release,
};

int dm_remap_sysfs_init(void)
{
	dm_remap_root = kobject_create_and_add("dm_remap", kernel_kobj);
	return dm_remap_root ? 0 : -ENOMEM;
}

void dm_remap_sysfs_exit(void)
{
	kobject_put(dm_remap_root);
}

struct dm_remap_kobj *dm_remap_sysfs_add(struct dm_target *ti, void *ctx,
					 dm_remap_sysfs_show_fn show,
					 dm_remap_sysfs_store_fn store,
					 const struct dm_remap_sysfs_attr *attrs,
					 unsigned int nr_attrs)
{
	char name[DM_NAME_LEN];
	struct dm_remap_kobj *d;
	unsigned int i;

	/* The name userspace gave the device (dm_device_name is major:minor). */
	if (dm_copy_name_and_uuid(dm_table_get_md(ti->table), name, NULL))
		return NULL;
	d = kzalloc(struct_size(d, attrs, nr_attrs), GFP_KERNEL);
	if (!d)
		return NULL;
	d->nr_attrs = nr_attrs;
	d->attr_list = kcalloc(nr_attrs + 1, sizeof(*d->attr_list), GFP_KERNEL);
	if (!d->attr_list) {
		kfree(d);
		return NULL;
	}
	for (i = 0; i < nr_attrs; i++) {
		/* Allocated attributes need a lockdep class. */
		sysfs_attr_init(&d->attrs[i].attr);
		d->attrs[i].attr.name = attrs[i].name;
		d->attrs[i].attr.mode = attrs[i].mode;
		d->attrs[i].id = i;
		d->attr_list[i] = &d->attrs[i].attr;
	}
	d->group.attrs = d->attr_list;
	d->ctx = ctx;
	d->show = show;
	d->store = store;
	if (kobject_init_and_add(&d->kobj, &dm_remap_ktype, dm_remap_root, "%s", name)) {
		kobject_put(&d->kobj);
		return NULL;
	}
	if (sysfs_create_group(&d->kobj, &d->group)) {
		kobject_del(&d->kobj);
		kobject_put(&d->kobj);
		return NULL;
	}
	return d;
}

void dm_remap_sysfs_remove(struct dm_remap_kobj *d)
{
	sysfs_remove_group(&d->kobj, &d->group);
	/* kobject_del waits for running show/store calls to finish. */
	kobject_del(&d->kobj);
	kobject_put(&d->kobj);
}

s64 dm_remap_real_seconds(void)
{
	return ktime_get_real_seconds();
}
