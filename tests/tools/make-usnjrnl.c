/*
 * make-usnjrnl IMAGE: give an unmounted NTFS image a change journal the way Windows
 * lays one out — `$Extend\$UsnJrnl` with a resident `$Max` stream (32 bytes: maximum
 * size, allocation delta, journal ID, lowest valid USN) and a non-resident, sparse `$J`
 * stream whose leading range is a hole (USNs below the lowest valid one were freed) and
 * whose tail holds USN_RECORD_V2 records — so that the live-Windows raw-volume test can
 * collect a real `$Extend/$UsnJrnl:$J` and compare it with sleuthkit's `icat`.
 *
 * Why a program: mkntfs makes no change journal, ntfs-3g 2022.10 ships no tool that
 * enables one and its FUSE driver refuses to create files in `$Extend`; its library
 * (libntfs-3g, package ntfs-3g-dev) does not. Test fixture only: never part of fieldkit.
 *
 * Build: gcc -o make-usnjrnl make-usnjrnl.c -lntfs-3g
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

/* The hole before the first valid record, and the records' total length. */
#define J_HOLE (1 << 20)
#define J_RECORDS 4096

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v); put32(p + 4, v >> 32); }

/* One USN_RECORD_V2 for NAME at USN; returns its length (8-byte aligned). */
static size_t usn_record(uint8_t *p, uint64_t usn, uint64_t file_ref, uint32_t reason,
                         const char *name) {
    size_t n = strlen(name), len = (60 + 2 * n + 7) & ~(size_t)7;
    memset(p, 0, len);
    put32(p, len);
    put16(p + 4, 2);                        /* major version */
    put64(p + 8, file_ref);                 /* file reference */
    put64(p + 16, 5 | (5ULL << 48));        /* parent: the root folder */
    put64(p + 24, usn);
    put64(p + 32, 133000000000000000ULL);   /* 2022-06 as FILETIME */
    put32(p + 40, reason);
    put32(p + 52, 0x20);                    /* FILE_ATTRIBUTE_ARCHIVE */
    put16(p + 56, 2 * n);
    put16(p + 58, 60);
    for (size_t i = 0; i < n; i++)
        put16(p + 60 + 2 * i, (uint8_t)name[i]);
    return len;
}

static int fail(const char *what) {
    fprintf(stderr, "make-usnjrnl: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make-usnjrnl IMAGE\n");
        return 2;
    }
    ntfs_volume *vol = ntfs_mount(argv[1], 0);
    if (!vol)
        return fail("mount");
    ntfs_inode *extend = ntfs_pathname_to_inode(vol, NULL, "$Extend");
    if (!extend)
        return fail("$Extend");

    ntfschar *name = NULL, *j = NULL, *max = NULL;
    int name_len = ntfs_mbstoucs("$UsnJrnl", &name);
    int j_len = ntfs_mbstoucs("$J", &j);
    int max_len = ntfs_mbstoucs("$Max", &max);
    if (name_len < 0 || j_len < 0 || max_len < 0)
        return fail("names");
    ntfs_inode *ni = ntfs_create(extend, 0, name, name_len, S_IFREG);
    if (!ni)
        return fail("create $Extend\\$UsnJrnl");
    /* Windows' $UsnJrnl has no unnamed stream. */
    if (ntfs_attr_remove(ni, AT_DATA, AT_UNNAMED, 0))
        return fail("remove the unnamed $DATA");

    uint8_t max_value[32] = {0};
    put64(max_value, 32 << 20);      /* maximum size */
    put64(max_value + 8, 8 << 20);   /* allocation delta */
    put64(max_value + 16, 0x01d8a1b2c3d4e5f6ULL); /* journal ID */
    put64(max_value + 24, J_HOLE);   /* lowest valid USN */
    if (ntfs_attr_add(ni, AT_DATA, max, max_len, max_value, sizeof max_value))
        return fail("add $Max");

    if (ntfs_attr_add(ni, AT_DATA, j, j_len, NULL, 0))
        return fail("add $J");
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, j, j_len);
    if (!na)
        return fail("open $J");
    /* Growing to the hole's end first leaves the leading range unallocated (sparse). */
    if (ntfs_attr_truncate(na, J_HOLE))
        return fail("truncate $J");
    uint8_t records[J_RECORDS] = {0};
    size_t at = 0;
    static const char *names[] = {"SAM", "SYSTEM", "Security.evtx", "NTUSER.DAT",
                                  "secret-plan.docx", "secret-plan.docx"};
    static const uint32_t reasons[] = {0x2, 0x2, 0x2, 0x2, 0x100, 0x80000200};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        at += usn_record(records + at, J_HOLE + at, 64 + i, reasons[i], names[i]);
    if (ntfs_attr_pwrite(na, J_HOLE, J_RECORDS, records) != J_RECORDS)
        return fail("write $J");
    ntfs_attr_close(na);

    if (ntfs_inode_close(ni) || ntfs_inode_close(extend))
        return fail("close");
    if (ntfs_umount(vol, 0))
        return fail("unmount");
    free(name);
    free(j);
    free(max);
    return 0;
}
