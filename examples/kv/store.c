/* The item store (see store.h): a chained hash table that doubles when it
 * averages more than 1.5 items a bucket, an LRU list, and a byte limit
 * enforced by evicting from the LRU tail before an item is linked.
 *
 * Expired and flushed items are dropped lazily, when a lookup meets them
 * ("reclaimed"), and eagerly when the LRU tail is evicted. Every reply
 * string is memcached's. */
#include "store.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t clock_offset;

int64_t
kv_now(void)
{
    return (int64_t)time(NULL) + atomic_load_explicit(&clock_offset, memory_order_relaxed);
}

void
kv_clock_advance(int64_t seconds)
{
    atomic_fetch_add(&clock_offset, seconds);
}

int64_t
kv_exptime_abs(int64_t exptime, int64_t now)
{
    if (exptime == 0) {
        return 0;
    }
    if (exptime < 0) {
        return now - 1;
    }
    if (exptime <= KV_REL_EXPTIME_MAX) {
        return now + exptime;
    }
    return exptime;
}

uint64_t
kv_hash(const char *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, k, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        k += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, k, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

struct kv_item *
kv_item_new(const char *key, size_t nkey, uint32_t flags, int64_t exptime, size_t nbytes)
{
    struct kv_item *it = malloc(sizeof(*it) + nkey + nbytes + 2);
    if (it == NULL) {
        return NULL;
    }
    it->hash = kv_hash(key, nkey);
    it->cas = 0;
    it->exptime = exptime;
    it->time = 0;
    it->flags = flags;
    it->nbytes = (uint32_t)nbytes;
    it->nkey = (uint8_t)nkey;
    memcpy(it->data, key, nkey);
    return it;
}

void
kv_counters_add(struct kv_counters *sum, const struct kv_counters *c)
{
#define KV_ADD_(name) sum->name += c->name;
    KV_STAT_FIELDS(KV_ADD_)
#undef KV_ADD_
}

/* --- table and LRU --------------------------------------------------------- */

#define BUCKETS_MIN 1024

int
kv_part_init(struct kv_part *p, unsigned index, size_t limit)
{
    memset(p, 0, sizeof(*p));
    p->lru.next = p->lru.prev = &p->lru;
    p->buckets = calloc(BUCKETS_MIN, sizeof(*p->buckets));
    if (p->buckets == NULL) {
        return -ENOMEM;
    }
    p->mask = BUCKETS_MIN - 1;
    p->limit = limit;
    p->index = index;
    p->c.limit_maxbytes = limit;
    return 0;
}

static void
lru_unlink(struct kv_item *it)
{
    it->lru.prev->next = it->lru.next;
    it->lru.next->prev = it->lru.prev;
}

static void
lru_push(struct kv_part *p, struct kv_item *it)
{
    it->lru.next = p->lru.next;
    it->lru.prev = &p->lru;
    p->lru.next->prev = &it->lru;
    p->lru.next = &it->lru;
}

static struct kv_item **
chain_slot(struct kv_part *p, const char *key, size_t nkey, uint64_t hash)
{
    struct kv_item **pp = &p->buckets[hash & p->mask];
    for (; *pp != NULL; pp = &(*pp)->hnext) {
        struct kv_item *it = *pp;
        if (it->hash == hash && it->nkey == nkey && memcmp(it->data, key, nkey) == 0) {
            break;
        }
    }
    return pp;
}

static void
grow(struct kv_part *p)
{
    size_t n = (p->mask + 1) * 2;
    struct kv_item **b = calloc(n, sizeof(*b));
    if (b == NULL) {
        return; /* longer chains, still correct */
    }
    for (size_t i = 0; i <= p->mask; i++) {
        struct kv_item *it = p->buckets[i];
        while (it != NULL) {
            struct kv_item *next = it->hnext;
            it->hnext = b[it->hash & (n - 1)];
            b[it->hash & (n - 1)] = it;
            it = next;
        }
    }
    free(p->buckets);
    p->buckets = b;
    p->mask = n - 1;
}

/* Remove the item at *pp from table and LRU and free it. */
static void
drop(struct kv_part *p, struct kv_item **pp)
{
    struct kv_item *it = *pp;
    *pp = it->hnext;
    lru_unlink(it);
    p->used -= kv_item_size(it->nkey, it->nbytes);
    p->c.curr_items--;
    free(it);
}

static void
evict_tail(struct kv_part *p, int64_t now)
{
    struct kv_item *it = (struct kv_item *)p->lru.prev; /* lru is the first member */
    if (it->exptime != 0 && it->exptime <= now) {
        p->c.reclaimed++;
    } else {
        p->c.evictions++;
    }
    drop(p, chain_slot(p, it->data, it->nkey, it->hash));
}

static int
is_live(const struct kv_part *p, const struct kv_item *it, int64_t now)
{
    if (it->exptime != 0 && it->exptime <= now) {
        return 0;
    }
    return p->flush_at == 0 || p->flush_at > now || it->time >= p->flush_at;
}

/* The live item for op's key, or NULL; *slot gets its chain slot (or the
 * empty one at the chain's end). A dead item met here is dropped. */
static struct kv_item *
find(struct kv_part *p, const struct kv_op *op, struct kv_item ***slot)
{
    struct kv_item **pp = chain_slot(p, op->key, op->nkey, op->hash);
    struct kv_item *it = *pp;
    if (it != NULL && !is_live(p, it, op->now)) {
        if (it->exptime != 0 && it->exptime <= op->now) {
            p->c.get_expired += op->kind == KV_CMD_GET || op->kind == KV_CMD_GETS;
        } else {
            p->c.get_flushed += op->kind == KV_CMD_GET || op->kind == KV_CMD_GETS;
        }
        p->c.reclaimed++;
        drop(p, pp);
        it = NULL;
    }
    *slot = pp;
    return it;
}

/* Link it in place of the item at *slot (if any). 0, or -ENOMEM if it can
 * never fit (it is freed then). */
static int
link_item(struct kv_part *p, struct kv_item **slot, struct kv_item *it, int64_t now)
{
    size_t size = kv_item_size(it->nkey, it->nbytes);
    if (size > p->limit) {
        free(it);
        return -ENOMEM;
    }
    if (*slot != NULL) {
        drop(p, slot);
    }
    while (p->used + size > p->limit) {
        evict_tail(p, now);
    }
    it->cas = (++p->cas_seq << 8) | p->index;
    it->time = now;
    it->hnext = NULL;
    /* Evictions may have changed the chain: find the end again. */
    struct kv_item **pp = chain_slot(p, it->data, it->nkey, it->hash);
    *pp = it;
    lru_push(p, it);
    p->used += size;
    p->c.curr_items++;
    p->c.total_items++;
    if (p->c.curr_items > (p->mask + 1) + (p->mask + 1) / 2) {
        grow(p);
    }
    return 0;
}

void
kv_part_destroy(struct kv_part *p)
{
    kv_part_flush(p, 0, 0);
    free(p->buckets);
    p->buckets = NULL;
}

void
kv_part_flush(struct kv_part *p, int64_t when, int64_t now)
{
    p->c.cmd_flush += p->index == 0; /* counted once, not once per partition */
    if (when > now) {
        p->flush_at = when;
        return;
    }
    while (p->lru.next != &p->lru) {
        struct kv_item *it = (struct kv_item *)p->lru.next;
        drop(p, chain_slot(p, it->data, it->nkey, it->hash));
    }
    p->flush_at = 0;
}

/* --- replies ----------------------------------------------------------------- */

static void
reply(const struct kv_op *op, const char *s, size_t n)
{
    if (!op->noreply) {
        kv_out_put(op->out, s, n);
    }
}
#define REPLY(op, lit) reply(op, lit, sizeof(lit) - 1)

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n" */
static void
reply_value(struct kv_out *o, const struct kv_item *it, int with_cas)
{
    size_t need = 6 + it->nkey + 1 + 10 + 1 + 10 + 1 + 20 + 2 + it->nbytes + 2;
    if (kv_out_reserve(o, need) < 0) {
        return;
    }
    char *b = o->buf + o->len;
    memcpy(b, "VALUE ", 6);
    b += 6;
    memcpy(b, it->data, it->nkey);
    b += it->nkey;
    *b++ = ' ';
    b += kv_fmt_u64(b, it->flags);
    *b++ = ' ';
    b += kv_fmt_u64(b, it->nbytes);
    if (with_cas) {
        *b++ = ' ';
        b += kv_fmt_u64(b, it->cas);
    }
    *b++ = '\r';
    *b++ = '\n';
    memcpy(b, it->data + it->nkey, (size_t)it->nbytes + 2);
    b += it->nbytes + 2;
    o->len = (size_t)(b - o->buf);
}

/* --- commands ---------------------------------------------------------------- */

static void
do_get(struct kv_part *p, struct kv_op *op)
{
    struct kv_item **slot;
    int touch = op->kind == KV_CMD_GAT || op->kind == KV_CMD_GATS;
    p->c.cmd_get++;
    p->c.cmd_touch += touch;
    struct kv_item *it = find(p, op, &slot);
    if (it == NULL) {
        p->c.get_misses++;
        p->c.touch_misses += touch;
        return;
    }
    p->c.get_hits++;
    if (touch) {
        p->c.touch_hits++;
        it->exptime = op->exptime;
    }
    lru_unlink(it);
    lru_push(p, it);
    reply_value(op->out, it, op->kind == KV_CMD_GETS || op->kind == KV_CMD_GATS);
}

/* append / prepend: a new item holding both values, the old one's flags
 * and expiry. */
static struct kv_item *
concat(const struct kv_item *old, struct kv_item *add, int append)
{
    size_t n = (size_t)old->nbytes + add->nbytes;
    struct kv_item *it = kv_item_new(old->data, old->nkey, old->flags, old->exptime, n);
    if (it == NULL) {
        return NULL;
    }
    const struct kv_item *first = append ? old : add, *second = append ? add : old;
    char *v = kv_item_value(it);
    memcpy(v, first->data + first->nkey, first->nbytes);
    memcpy(v + first->nbytes, second->data + second->nkey, second->nbytes);
    memcpy(v + n, "\r\n", 2);
    return it;
}

static void
do_store(struct kv_part *p, struct kv_op *op)
{
    struct kv_item **slot;
    struct kv_item *it = op->item, *old = find(p, op, &slot);
    op->item = NULL;
    p->c.cmd_set++;
    switch (op->kind) {
    case KV_CMD_ADD:
        if (old != NULL) {
            lru_unlink(old); /* memcached bumps the item an add failed on */
            lru_push(p, old);
            free(it);
            REPLY(op, "NOT_STORED\r\n");
            return;
        }
        break;
    case KV_CMD_REPLACE: case KV_CMD_APPEND: case KV_CMD_PREPEND:
        if (old == NULL) {
            free(it);
            REPLY(op, "NOT_STORED\r\n");
            return;
        }
        if (op->kind != KV_CMD_REPLACE) {
            struct kv_item *both = concat(old, it, op->kind == KV_CMD_APPEND);
            free(it);
            it = both;
            if (it == NULL) {
                kv_out_str(op->out, "SERVER_ERROR out of memory storing object\r\n");
                return;
            }
        }
        break;
    case KV_CMD_CAS:
        if (old == NULL) {
            p->c.cas_misses++;
            free(it);
            REPLY(op, "NOT_FOUND\r\n");
            return;
        }
        if (old->cas != op->cas) {
            p->c.cas_badval++;
            free(it);
            REPLY(op, "EXISTS\r\n");
            return;
        }
        p->c.cas_hits++;
        break;
    default:
        break;
    }
    if (link_item(p, slot, it, op->now) < 0) {
        kv_out_str(op->out, "SERVER_ERROR out of memory storing object\r\n");
        return;
    }
    REPLY(op, "STORED\r\n");
}

/* The value as an unsigned decimal (trailing spaces allowed, as memcached's
 * strtoull-based check allows them). 0 or -1. */
static int
value_u64(const struct kv_item *it, uint64_t *out)
{
    const char *v = it->data + it->nkey;
    size_t n = it->nbytes;
    while (n > 0 && v[n - 1] == ' ') {
        n--;
    }
    return kv_parse_u64(v, n, out);
}

static void
do_delta(struct kv_part *p, struct kv_op *op)
{
    struct kv_item **slot;
    struct kv_item *it = find(p, op, &slot);
    int incr = op->kind == KV_CMD_INCR;
    if (it == NULL) {
        incr ? p->c.incr_misses++ : p->c.decr_misses++;
        REPLY(op, "NOT_FOUND\r\n");
        return;
    }
    uint64_t v;
    if (value_u64(it, &v) < 0) {
        kv_out_str(op->out, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        return;
    }
    incr ? p->c.incr_hits++ : p->c.decr_hits++;
    v = incr ? v + op->delta : (op->delta > v ? 0 : v - op->delta);
    char digits[22];
    size_t n = kv_fmt_u64(digits, v);
    memcpy(digits + n, "\r\n", 2);
    struct kv_item *nit = kv_item_new(it->data, it->nkey, it->flags, it->exptime, n);
    if (nit == NULL || link_item(p, slot, (memcpy(kv_item_value(nit), digits, n + 2), nit),
                                 op->now) < 0) {
        kv_out_str(op->out, "SERVER_ERROR out of memory\r\n");
        return;
    }
    reply(op, digits, n + 2);
}

void
kv_part_exec(struct kv_part *p, struct kv_op *op)
{
    struct kv_item **slot, *it;
    switch (op->kind) {
    case KV_CMD_GET: case KV_CMD_GETS: case KV_CMD_GAT: case KV_CMD_GATS:
        do_get(p, op);
        return;
    case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
    case KV_CMD_PREPEND: case KV_CMD_CAS:
        do_store(p, op);
        return;
    case KV_CMD_INCR: case KV_CMD_DECR:
        do_delta(p, op);
        return;
    case KV_CMD_DELETE:
        if (find(p, op, &slot) == NULL) {
            p->c.delete_misses++;
            REPLY(op, "NOT_FOUND\r\n");
            return;
        }
        p->c.delete_hits++;
        drop(p, slot);
        REPLY(op, "DELETED\r\n");
        return;
    case KV_CMD_TOUCH:
        p->c.cmd_touch++;
        it = find(p, op, &slot);
        if (it == NULL) {
            p->c.touch_misses++;
            REPLY(op, "NOT_FOUND\r\n");
            return;
        }
        p->c.touch_hits++;
        it->exptime = op->exptime;
        lru_unlink(it);
        lru_push(p, it);
        REPLY(op, "TOUCHED\r\n");
        return;
    case KV_OP_UNLINK:
        if (find(p, op, &slot) != NULL) {
            drop(p, slot);
        }
        return;
    default:
        kv_out_str(op->out, "ERROR\r\n");
        return;
    }
}
