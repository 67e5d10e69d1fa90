/*
 * wal_fixture.h - what the write-ahead log's tests share (test_wal*.c,
 * test_disk.c): a disk to run on, file pokes through the disk interface,
 * a workload of store changes with a reference store, recovery callbacks,
 * and a wrapper disk that dies after a count of operations.
 *
 * A fixture disk is either the POSIX one on a fresh temporary directory or
 * the in-memory one. A "crash" on the POSIX disk is a process crash
 * (whatever was written stays); on the memory disk it is a power loss that
 * keeps only what was synced, plus torn prefixes of the rest drawn from a
 * seeded PRNG. The reference for "the store after recovery" is a
 * chord_store that saw every change directly.
 *
 * Every helper fails the running cmocka test on an unexpected error; none
 * of them returns an error code. Nothing here tests anything by itself.
 */
#ifndef CHORD_TEST_WAL_FIXTURE_H
#define CHORD_TEST_WAL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store.h"
#include "core/wire.h"
#include "io/disk.h"
#include "io/wal.h"

/* test_NAME_posix and test_NAME_mem: run_NAME(mem) on the real disk and
 * on the simulated one. */
#define ON_BOTH_DISKS(name)                                                    \
    static void test_##name##_posix(void **state)                              \
    {                                                                          \
        (void)state;                                                           \
        run_##name(false);                                                     \
    }                                                                          \
    static void test_##name##_mem(void **state)                                \
    {                                                                          \
        (void)state;                                                           \
        run_##name(true);                                                      \
    }

/* The next number of a seeded xorshift64 (the seed must not be 0). */
uint64_t rnd(uint64_t *s);

/* ---- a disk to test on ----------------------------------------------------
 */

/* The POSIX disk on a fresh temp dir (mem false), or the memory one. */
struct fx {
    bool mem;
    struct chord_disk disk;
    char dir[256];
};

/* Open a fresh disk of the kind asked for into *f. */
void fx_init(struct fx *f, bool mem);
/* Free the disk, and on POSIX delete its files and the directory. */
void fx_free(struct fx *f);
/* Lose power (memory disk: torn by *prng, or everything unsynced lost if
 * prng is NULL) or just die (POSIX: the files stay, nothing happens). */
void fx_crash(struct fx *f, uint64_t *prng);

/* Whether a file of that name can be opened for reading. */
bool file_exists(const struct chord_disk *d, const char *name);
/* The size of an existing file. */
uint64_t file_size(const struct chord_disk *d, const char *name);
/* XOR the byte at `off` of an existing file with xor_mask. */
void file_poke(const struct chord_disk *d, const char *name, uint64_t off,
               uint8_t xor_mask);
/* A whole file in a malloc'd buffer (the caller frees it), *len its size. */
uint8_t *file_read(const struct chord_disk *d, const char *name, uint64_t *len);
/* Create or truncate a file and write p[0, len) into it (not synced). */
void file_write(const struct chord_disk *d, const char *name, const uint8_t *p,
                uint64_t len);

/* ---- a workload of store changes ----------------------------------------- */

/* One change: an item with its own key/value storage. */
struct change {
    uint8_t key[16];
    uint8_t val[64];
    struct chord_item it;
};

/* A random change on one of `nkeys` keys into *c; *clock counts changes.
 * Versions grow, but one change in eight is a stale copy (an older
 * version) that must lose; every version is unique. */
void change_make(uint64_t *prng, unsigned nkeys, uint64_t *clock,
                 struct change *c);
/* Append a change to the log and, if ref is not NULL, apply it to the
 * reference store; returns its sequence number. */
uint64_t log_change(struct chord_wal *w, struct chord_store *ref,
                    const struct change *c);

/* A chord_wal_apply_fn: decode the item, apply it to the store `arg`. */
int apply_store(void *arg, uint64_t seq, const uint8_t *p, size_t len);

/* Sequence numbers seen by apply_seq (the first 4096). */
struct seqs {
    uint64_t v[4096];
    size_t n;
};
/* A chord_wal_apply_fn that records seq in the struct seqs `arg`. */
int apply_seq(void *arg, uint64_t seq, const uint8_t *p, size_t len);

/* The two stores hold the same entries, versions, values and tombstones. */
void assert_store_equal(const struct chord_store *want,
                        const struct chord_store *got);
/* Every entry of `acked` is in `got` with a version at least as new. */
void assert_store_covers(const struct chord_store *acked,
                         const struct chord_store *got);

/* Fsync on every sync; and the same with --repair. */
extern const struct chord_wal_options opt_sync;
extern const struct chord_wal_options opt_repair;

/* Open (recover) into a fresh store, which must succeed; returns the wal,
 * *st the store (the caller frees both), *rep the report. */
struct chord_wal *open_into(const struct chord_disk *d,
                            const struct chord_wal_options *opt,
                            struct chord_store **st,
                            struct chord_wal_report *rep);

/* ---- a wrapper disk that dies after N mutating operations --------------- */

/* A disk over `inner` that fails every mutating operation (create,
 * truncate, write, fsync, rename, unlink, dir sync) with -EIO once `left`
 * reached 0, and from then on (dead). With short_write set, the next
 * write writes half its bytes and fails with -ENOSPC. */
struct faulty {
    struct chord_disk inner;
    uint64_t left; /* mutating operations still allowed */
    bool dead;
    bool short_write; /* the next pwrite writes half and fails ENOSPC */
};

/* Set *f over *inner (borrowed: it must outlive the wrapper) allowing
 * `allowed` mutating operations; returns the disk to hand to the log. */
struct chord_disk faulty_wrap(struct faulty *f, const struct chord_disk *inner,
                              uint64_t allowed);

#endif
