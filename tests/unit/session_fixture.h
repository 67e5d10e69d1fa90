/*
 * session_fixture.h - fake nodes on 127.0.0.1 for the session's tests
 * (test_client_failover.c, test_session.c): a frozen node (it listens,
 * nobody accepts: the connection opens and no answer ever comes), a
 * refused port, and scripted nodes that decode every request with the
 * real codec, record what it carried (request id, fence, lock fields,
 * key, key2, value, the causal trailer) and answer it (a reply may carry
 * a key's state): with one status for every request, or
 * a script of replies (the last repeated), a reply of its own for a lock
 * CANCEL, or nothing at all (silent: it reads and never answers).
 *
 * Every wait of a fake node is bounded (FAKE_WAIT_MS) and it stops when
 * told. The test reads what a fake recorded after fake_stop() (which
 * joins its thread), never while it runs.
 */
#ifndef CHORD_TEST_SESSION_FIXTURE_H
#define CHORD_TEST_SESSION_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "chord/session.h"
#include "chord/types.h"

#define FAKE_WAIT_MS 10000 /* the longest a fake node runs */
#define SLACK_MS 400       /* timing slack for slow builds */
#define FAKE_RECORDS 64    /* requests a fake records (later ones counted) */
#define FAKE_FIELD 64      /* bytes of a key, key2 or value recorded */

/* What one request carried. */
struct fake_record {
    uint8_t type;
    bool has_rid;
    struct chord_rid rid;
    bool has_fence;
    char fence_name[CHORD_LOCK_NAME_MAX + 1];
    uint64_t fence;
    uint8_t lock_op;
    uint8_t lock_client[CHORD_CLIENT_ID_BYTES];
    uint64_t lock_fence;
    uint32_t lease_ms;
    uint8_t key[FAKE_FIELD], key2[FAKE_FIELD], value[FAKE_FIELD];
    size_t key_len, key2_len, value_len; /* as sent (recorded: at most
                                            FAKE_FIELD bytes) */
    /* The causal trailer (issue 14): its bits, context, session, TTL. */
    uint8_t causal;
    uint8_t context[FAKE_FIELD], session[FAKE_FIELD];
    size_t context_len, session_len;
    uint32_t ttl_s;
};

/* One scripted reply (a C_RESULT). */
struct fake_reply {
    uint8_t status;
    const void *value;
    size_t value_len;
    const char *error;
};

struct fake {
    int lfd;
    char addr[CHORD_ADDR_MAX];
    pthread_t thread;
    bool running;
    /* The script: every request gets this status (and hint, value)... */
    uint8_t status;
    struct chord_peer hint; /* made here, not in the fake's thread (the
                               SHA-1 there would leave OpenSSL's thread
                               state behind) */
    const char *value;
    const char *error;
    /* ... unless script is set: the i-th request gets script[i], the
     * last one repeated; a lock CANCEL gets *cancel when it is set. */
    const struct fake_reply *script;
    size_t n_script;
    const struct fake_reply *cancel;
    /* Every reply (scripted or not) carries this state blob (core/dvv.h)
     * with CHORD_CAUSAL_STATE when it is not NULL; set it before the
     * first request. */
    const void *state;
    size_t state_len;
    bool silent;       /* read and record, never answer */
    atomic_int served; /* requests answered (or read, when silent) */
    atomic_bool stop;
    struct fake_record rec[FAKE_RECORDS];
};

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void);
/* A listening socket on 127.0.0.1, port chosen by the kernel. */
int listen_any(char addr[CHORD_ADDR_MAX]);
/* An address where nothing listens: connecting is refused. */
void refused_addr(char addr[CHORD_ADDR_MAX]);

/* A fake node answering every request with `status` (value, hint and
 * error may be NULL). */
struct fake *fake_start(uint8_t status, const char *value, const char *hint,
                        const char *error);
/* A fake node following a script (n > 0 replies; cancel may be NULL). */
struct fake *fake_scripted(const struct fake_reply *script, size_t n,
                           const struct fake_reply *cancel);
/* A fake node that reads and records requests, and never answers. */
struct fake *fake_silent(void);
/* A frozen node: it listens but never accepts or answers. */
struct fake *fake_frozen(void);
/* Stop a fake node, join its thread; then free it with free(). */
void fake_stop_keep(struct fake *f);
/* Stop and free it. */
void fake_stop(struct fake *f);

/* A session over seeds[0..n) with budget_ms per call. */
struct chord_session *open_session(const char *const *seeds, size_t n,
                                   int budget_ms);

#endif
