//! Where evidence bytes come from. Today: a mounted or live filesystem, walked by
//! `walk` and read by `read`; raw disk images will be another source behind the same
//! shape (candidates in, hashed bytes out), so the pipeline does not care.
//! Nothing in this module ever writes to a source.

pub mod dirlist;
pub mod homes;
pub mod image;
pub mod longpath;
pub mod mounts;
pub mod read;
pub mod walk;
