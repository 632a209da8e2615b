// SPDX-License-Identifier: GPL-2.0
/*
 * Wrappers around static inline functions and macros that Rust cannot call.
 * Each one is a single expression; the safety contract is the wrapped one's.
 */
#include "../../include/dm_remap_bindings.h"

void dm_remap_bio_set_dev(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
}

unsigned int dm_remap_bio_op(const struct bio *bio)
{
	return bio_op(bio);
}

bool dm_remap_bio_is_preflush(const struct bio *bio)
{
	return bio->bi_opf & REQ_PREFLUSH;
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
