// SPDX-License-Identifier: GPL-2.0
//! Block arithmetic of one target: the core's, shared with the tool.

pub(crate) use crate::logic::geometry::Geometry;
