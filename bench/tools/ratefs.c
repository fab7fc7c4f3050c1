/*
 * ratefs: a FUSE pass-through file system that behaves like a slow output device (a USB
 * stick) for benchmarks. Every byte written through the mount reaches the backing folder
 * only as fast as a token bucket allows (default 30 MB/s, MB = 10^6 bytes); reads can be
 * limited too (default 100 MB/s). Reads and writes share one device clock, as on a stick
 * (it does one thing at a time): an operation of n bytes occupies the device for
 * n / rate seconds, and its reply is sent when the device has passed its bytes.
 *
 * Page cache: writeback caching is OFF, so the kernel sends every write(2) to this daemon
 * synchronously (write-through) and write(2) returns only when the throttle has passed the
 * bytes; nothing is hidden in the mount's page cache. The written pages stay cached for
 * reads as they would on a real block device (kernel_cache), so a program that wants to
 * read the medium itself must drop them (posix_fadvise DONTNEED, as fieldkit's
 * verify-after-write does) — or mount with --direct-io, where every read and write goes
 * through the daemon and nothing is cached at all.
 *
 * fsync/fdatasync wait until the device clock has passed every byte accepted so far, then
 * fsync the backing file. pwrite at any offset, ftruncate/truncate, fallocate, lseek
 * (SEEK_DATA/SEEK_HOLE), rename (with RENAME_NOREPLACE), links, chmod/chown/utimens and
 * statfs are passed to the backing folder. After each write the backing file's writeback
 * is started (sync_file_range WRITE, non-blocking) so the local disk does not pile up dirty
 * pages that a later fsync would have to flush at the local disk's speed.
 *
 * usage: ratefs [--write-mbps N] [--read-mbps N] [--burst-kib N] [--direct-io]
 *               BACKING_DIR MOUNTPOINT [FUSE options, e.g. -f]
 *   --write-mbps N  write throughput in MB/s (10^6 bytes/s), default 30
 *   --read-mbps N   read throughput in MB/s, default 100; 0 = unlimited (reads cost no
 *                   device time)
 *   --burst-kib N   idle credit the bucket may hold, in KiB of writes, default 256
 *   --direct-io     no page cache on the mount at all (reads always reach the daemon)
 * On exit (unmount) it prints the bytes written and read and the device busy time.
 * build: gcc -O2 -Wall -o ratefs ratefs.c $(pkg-config --cflags --libs fuse3)
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <fuse.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int backing_fd = -1;
static double write_bps = 30e6, read_bps = 100e6;
static int64_t burst_ns;
static int direct_io;

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t dev_free_ns; /* monotonic time at which the device has passed all bytes */
static atomic_llong bytes_written, bytes_read, busy_ns, start_ns;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void sleep_until(int64_t deadline) {
    struct timespec t = {deadline / 1000000000, deadline % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
    }
}

/* Book n bytes at rate bps on the device clock; return when the device has passed them. */
static void throttle(size_t n, double bps) {
    if (bps <= 0 || n == 0)
        return;
    int64_t cost = (int64_t)((double)n * 1e9 / bps);
    pthread_mutex_lock(&clock_lock);
    int64_t now = now_ns();
    if (dev_free_ns < now - burst_ns)
        dev_free_ns = now - burst_ns; /* an idle device holds at most burst_ns of credit */
    dev_free_ns += cost;
    int64_t deadline = dev_free_ns;
    pthread_mutex_unlock(&clock_lock);
    busy_ns += cost;
    sleep_until(deadline);
}

/* Wait until every byte booked so far has passed the device. */
static void drain(void) {
    pthread_mutex_lock(&clock_lock);
    int64_t deadline = dev_free_ns;
    pthread_mutex_unlock(&clock_lock);
    sleep_until(deadline);
}

/* The backing-folder path of a mount path: "/" -> ".", "/a/b" -> "a/b". */
static const char *rel(const char *path) {
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

static int err(int r) { return r < 0 ? -errno : r; }

static void *rfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE; /* write-through: every write reaches us */
    conn->max_write = 1 << 20;
    cfg->use_ino = 1;
    cfg->nullpath_ok = 1;
    cfg->direct_io = direct_io;
    cfg->kernel_cache = !direct_io; /* written pages stay cached, as on a block device */
    cfg->attr_timeout = 1;
    cfg->entry_timeout = 1;
    cfg->negative_timeout = 0;
    start_ns = now_ns();
    return NULL;
}

static void rfs_destroy(void *data) {
    (void)data;
    double secs = (double)(now_ns() - start_ns) / 1e9;
    fprintf(stderr,
            "ratefs: %lld bytes written, %lld bytes read, device busy %.2f s of %.2f s mounted "
            "(write %.1f MB/s, read %.1f MB/s limits)\n",
            (long long)bytes_written, (long long)bytes_read, (double)busy_ns / 1e9, secs,
            write_bps / 1e6, read_bps / 1e6);
}

static int rfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    if (fi)
        return err(fstat((int)fi->fh, st));
    return err(fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

static int rfs_access(const char *path, int mask) {
    return err(faccessat(backing_fd, rel(path), mask, 0));
}

static int rfs_readlink(const char *path, char *buf, size_t size) {
    ssize_t n = readlinkat(backing_fd, rel(path), buf, size - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return 0;
}

static int rfs_opendir(const char *path, struct fuse_file_info *fi) {
    int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

static int rfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                       struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
    (void)path;
    (void)flags;
    DIR *d = (DIR *)(uintptr_t)fi->fh;
    if (off == 0)
        rewinddir(d);
    else
        seekdir(d, off);
    struct dirent *e;
    while ((errno = 0, e = readdir(d)) != NULL) {
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = e->d_ino;
        st.st_mode = (mode_t)DTTOIF(e->d_type);
        if (fill(buf, e->d_name, &st, telldir(d), 0))
            break;
    }
    return errno ? -errno : 0;
}

static int rfs_releasedir(const char *path, struct fuse_file_info *fi) {
    (void)path;
    closedir((DIR *)(uintptr_t)fi->fh);
    return 0;
}

static int rfs_mknod(const char *path, mode_t mode, dev_t rdev) {
    return err(mknodat(backing_fd, rel(path), mode, rdev));
}
static int rfs_mkdir(const char *path, mode_t mode) {
    return err(mkdirat(backing_fd, rel(path), mode));
}
static int rfs_unlink(const char *path) { return err(unlinkat(backing_fd, rel(path), 0)); }
static int rfs_rmdir(const char *path) {
    return err(unlinkat(backing_fd, rel(path), AT_REMOVEDIR));
}
static int rfs_symlink(const char *target, const char *path) {
    return err(symlinkat(target, backing_fd, rel(path)));
}
static int rfs_rename(const char *from, const char *to, unsigned int flags) {
    return err((int)syscall(SYS_renameat2, backing_fd, rel(from), backing_fd, rel(to), flags));
}
static int rfs_link(const char *from, const char *to) {
    return err(linkat(backing_fd, rel(from), backing_fd, rel(to), 0));
}
static int rfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
    if (fi)
        return err(fchmod((int)fi->fh, mode));
    return err(fchmodat(backing_fd, rel(path), mode, 0));
}
static int rfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
    if (fi)
        return err(fchown((int)fi->fh, uid, gid));
    return err(fchownat(backing_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW));
}
static int rfs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    if (fi)
        return err(ftruncate((int)fi->fh, size));
    int fd = openat(backing_fd, rel(path), O_WRONLY);
    if (fd < 0)
        return -errno;
    int r = err(ftruncate(fd, size));
    close(fd);
    return r;
}
static int rfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
    if (fi)
        return err(futimens((int)fi->fh, tv));
    return err(utimensat(backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

static int open_flags(int flags) { return flags & ~(O_DIRECT | O_NOATIME); }

static int rfs_open(const char *path, struct fuse_file_info *fi) {
    int fd = openat(backing_fd, rel(path), open_flags(fi->flags));
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}
static int rfs_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
    int fd = openat(backing_fd, rel(path), open_flags(fi->flags) | O_CREAT, mode);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int rfs_read(const char *path, char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi) {
    (void)path;
    ssize_t n = pread((int)fi->fh, buf, size, off);
    if (n < 0)
        return -errno;
    bytes_read += n;
    throttle((size_t)n, read_bps);
    return (int)n;
}

static int rfs_write(const char *path, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
    (void)path;
    int fd = (int)fi->fh;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, buf + done, size - done, off + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (done)
                break;
            return -errno;
        }
        done += (size_t)n;
    }
    sync_file_range(fd, off, (off_t)done, SYNC_FILE_RANGE_WRITE);
    bytes_written += (long long)done;
    throttle(done, write_bps);
    return (int)done;
}

static int rfs_statfs(const char *path, struct statvfs *st) {
    (void)path;
    return err(fstatvfs(backing_fd, st));
}
static int rfs_flush(const char *path, struct fuse_file_info *fi) {
    (void)path;
    /* close(dup) reports errors of the backing file the way close(2) would */
    int fd = dup((int)fi->fh);
    if (fd < 0)
        return -errno;
    return err(close(fd));
}
static int rfs_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    close((int)fi->fh);
    return 0;
}
static int rfs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path;
    drain();
    return err(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}
static int rfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path;
    DIR *d = (DIR *)(uintptr_t)fi->fh;
    drain();
    return err(datasync ? fdatasync(dirfd(d)) : fsync(dirfd(d)));
}
static int rfs_fallocate(const char *path, int mode, off_t off, off_t len,
                         struct fuse_file_info *fi) {
    (void)path;
    return err(fallocate((int)fi->fh, mode, off, len));
}
static off_t rfs_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi) {
    (void)path;
    off_t r = lseek((int)fi->fh, off, whence);
    return r < 0 ? -errno : r;
}

static const struct fuse_operations ops = {
    .init = rfs_init,
    .destroy = rfs_destroy,
    .getattr = rfs_getattr,
    .access = rfs_access,
    .readlink = rfs_readlink,
    .opendir = rfs_opendir,
    .readdir = rfs_readdir,
    .releasedir = rfs_releasedir,
    .mknod = rfs_mknod,
    .mkdir = rfs_mkdir,
    .symlink = rfs_symlink,
    .unlink = rfs_unlink,
    .rmdir = rfs_rmdir,
    .rename = rfs_rename,
    .link = rfs_link,
    .chmod = rfs_chmod,
    .chown = rfs_chown,
    .truncate = rfs_truncate,
    .utimens = rfs_utimens,
    .open = rfs_open,
    .create = rfs_create,
    .read = rfs_read,
    .write = rfs_write,
    .statfs = rfs_statfs,
    .flush = rfs_flush,
    .release = rfs_release,
    .fsync = rfs_fsync,
    .fsyncdir = rfs_fsyncdir,
    .fallocate = rfs_fallocate,
    .lseek = rfs_lseek,
};

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--write-mbps N] [--read-mbps N] [--burst-kib N] [--direct-io] "
            "BACKING_DIR MOUNTPOINT [FUSE options]\n",
            argv0);
    return 2;
}

static int number(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char *argv[]) {
    double burst_kib = 256;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        double v;
        if (strcmp(argv[i], "--direct-io") == 0) {
            direct_io = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--write-mbps") == 0) {
            if (number(argv[++i], &v) || v == 0)
                return usage(argv[0]);
            write_bps = v * 1e6;
        } else if (i + 1 < argc && strcmp(argv[i], "--read-mbps") == 0) {
            if (number(argv[++i], &v))
                return usage(argv[0]);
            read_bps = v * 1e6;
        } else if (i + 1 < argc && strcmp(argv[i], "--burst-kib") == 0) {
            if (number(argv[++i], &burst_kib))
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }
    if (argc - i < 2)
        return usage(argv[0]);
    burst_ns = (int64_t)(burst_kib * 1024 * 1e9 / write_bps);
    backing_fd = open(argv[i], O_RDONLY | O_DIRECTORY);
    if (backing_fd < 0) {
        fprintf(stderr, "ratefs: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    /* fuse_main sees: argv0 MOUNTPOINT [options...] -o fsname=ratefs */
    int fargc = 0;
    char **fargv = calloc((size_t)(argc - i) + 4, sizeof *fargv);
    if (!fargv)
        return 1;
    fargv[fargc++] = argv[0];
    for (int j = i + 1; j < argc; j++)
        fargv[fargc++] = argv[j];
    fargv[fargc++] = "-o";
    fargv[fargc++] = "fsname=ratefs,subtype=ratefs";
    fargv[fargc] = NULL;
    umask(0);
    return fuse_main(fargc, fargv, &ops, NULL);
}
