// The embedded DNS's answering thread: the mechanics only. TypeScript (src/network/dns-server.ts,
// dns-table.ts) decides every answer; this file receives queries on the listener sockets the
// daemon made in the containers' netns, looks each question up in a table TypeScript computed
// (questions and their answer records already in wire form), and sends the prepared answer. A
// name the table says is not ours it forwards to the upstreams TypeScript gave for the listener
// (from the daemon's netns: the thread is the process's), one after the other, and relays the
// first reply (none: SERVFAIL). Anything else (a query not in the one plain form it parses, a
// name the table leaves to JavaScript, a listener without upstreams it can use) goes to
// JavaScript on the main loop (a thread-safe function), which answers or forwards it and replies
// through dnsSend.
//
// Why not a worker_threads Worker: a Node worker is a V8 isolate plus a Node environment, ~9 MB
// resident even idle (bench/hakod-rss.mjs: 49.6 → 62.6 MB while it ran); this thread is a 64 KiB
// stack, an epoll fd and the tables.
//
// Threading: one mutex per server guards the listeners and the tables. The main thread changes
// them synchronously (dnsListen, dnsClose, dnsTables return once the change took effect: a closed
// listener's fd is closed before dnsClose returns). The thread holds the mutex while it reads a
// ready socket and answers (µs); an event for a listener closed meanwhile finds no listener (epoll
// data is the listener's id, never reused) and is dropped.
#include "addon_hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DNS_MAX_PACKET 4096
// An upstream's reply may be as large as the asker's EDNS buffer allows (as dns-answerer.ts's
// forward relays it); a query larger than DNS_MAX_PACKET is dropped.
#define DNS_MAX_REPLY 65536
// Misses queued for JavaScript at most; more are dropped (the client retries), as a full socket
// buffer would.
#define DNS_MAX_MISSES 256
#define EV_WAKE UINT64_MAX
// epoll data of a forward's socket: this bit, the try's generation << 16, the slot
#define EV_FWD (1ull << 62)

struct dns_entry {
  const uint8_t *name; // wire form, lowercase, with the final 0
  uint16_t name_len;
  uint16_t type; // 0: any type without an entry of its own
  uint8_t kind; // 0: answer, 1: hand to JavaScript, 2: forward
  uint8_t rcode;
  uint16_t ancount;
  uint16_t alen;
  const uint8_t *ans; // ancount records without their owner names: type, class, ttl, rdlength, rdata
};

struct dns_table {
  uint8_t forward; // names without an entry may be forwarded by this thread
  uint8_t hexmin;  // ... unless their first label is ≥ hexmin hex digits (0: no such rule)
  uint8_t *blob;
  uint32_t n;
  struct dns_entry *entries;
  uint32_t mask;     // index size - 1 (a power of two ≥ 2n)
  int32_t *index;    // entry number or -1
};

// Where names not ours go: u32 timeout per upstream (ms), u8 count, per upstream u8 family
// (4 or 6), 16 address bytes (IPv4: the first 4), u16 port. No upstream: SERVFAIL at once.
#define DNS_MAX_UPSTREAMS 16
struct dns_upstreams {
  uint32_t timeout_ms;
  uint8_t n;
  struct sockaddr_in6 addr[DNS_MAX_UPSTREAMS]; // (an IPv4 one as a sockaddr_in in the same space)
  socklen_t len[DNS_MAX_UPSTREAMS];
};

struct dns_listener {
  int32_t lid;
  int fd;
  int32_t table; // -1: none (every query goes to JavaScript)
  int32_t ups;   // upstream set; -1: JavaScript forwards
};

// A query forwarded by the thread: one upstream after the other (a connected socket each, so
// only that upstream's datagrams arrive), each for timeout_ms; the first reply with the query's
// id goes back to the asker; none: SERVFAIL (what dns-answerer.ts's forward does).
#define DNS_MAX_FORWARDS 256
struct dns_fwd {
  int fd; // the current upstream's socket; -1 between tries
  uint32_t gen;
  int32_t lid;
  struct sockaddr_in client;
  struct dns_upstreams ups; // a copy: the sets may be replaced meanwhile
  uint8_t cur;
  uint64_t deadline_ms;
  size_t len, question_end;
  uint8_t q[];
};

struct dns_miss {
  int32_t lid;
  uint32_t addr; // network order
  uint16_t port; // host order
  uint16_t len;
  uint8_t data[];
};

struct dns_server {
  pthread_mutex_t mu;
  int epfd, evfd;
  pthread_t thread;
  int running; // the thread runs (joined by dnsStop)
  int stopping;
  struct dns_listener *ls;
  size_t nls, capls;
  struct dns_table **tables;
  size_t ntables;
  struct dns_upstreams *ups;
  size_t nups;
  struct dns_fwd *fwd[DNS_MAX_FORWARDS];
  uint32_t fwdgen;
  uint8_t *reply; // DNS_MAX_REPLY bytes for an upstream's reply (the thread's stack is 64 KiB)
  napi_threadsafe_function tsfn;
};

static uint32_t fnv(const uint8_t *p, size_t n, uint16_t type) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  h = (h ^ (type >> 8)) * 16777619u;
  return (h ^ (type & 0xff)) * 16777619u;
}

static void table_free(struct dns_table *t) {
  if (!t) return;
  free(t->blob);
  free(t->entries);
  free(t->index);
  free(t);
}

// Parses a table: u8 forward, u8 hexmin, u32 count, then per entry u8 nameLen, name, u16 type,
// u8 kind, u8 rcode, u16 ancount, u16 alen, alen bytes (big-endian numbers). NULL when malformed
// (EINVAL) or ENOMEM.
static struct dns_table *table_parse(const uint8_t *src, size_t len, int *err) {
  *err = EINVAL;
  if (len < 6) return NULL;
  struct dns_table *t = calloc(1, sizeof *t);
  if (!t) return (*err = ENOMEM), NULL;
  t->blob = malloc(len ? len : 1);
  if (!t->blob) return table_free(t), (*err = ENOMEM), NULL;
  memcpy(t->blob, src, len);
  const uint8_t *p = t->blob;
  t->forward = p[0] == 1;
  t->hexmin = p[1];
  uint32_t n = (uint32_t)p[2] << 24 | p[3] << 16 | p[4] << 8 | p[5];
  if (p[0] > 1 || n > len) return table_free(t), NULL; // each entry takes more than a byte
  size_t off = 6;
  t->entries = calloc(n ? n : 1, sizeof *t->entries);
  uint32_t size = 2;
  while (size < 2 * n) size <<= 1;
  t->index = malloc(size * sizeof *t->index);
  if (!t->entries || !t->index) return table_free(t), (*err = ENOMEM), NULL;
  t->mask = size - 1;
  memset(t->index, 0xff, size * sizeof *t->index);
  for (uint32_t i = 0; i < n; i++) {
    struct dns_entry *e = &t->entries[i];
    if (off + 1 > len) return table_free(t), NULL;
    e->name_len = p[off++];
    if (e->name_len == 0 || off + e->name_len + 8 > len) return table_free(t), NULL;
    e->name = p + off;
    off += e->name_len;
    e->type = p[off] << 8 | p[off + 1];
    e->kind = p[off + 2];
    if (e->kind > 2) return table_free(t), NULL;
    e->rcode = p[off + 3] & 0xf;
    e->ancount = p[off + 4] << 8 | p[off + 5];
    e->alen = p[off + 6] << 8 | p[off + 7];
    off += 8;
    if (off + e->alen > len) return table_free(t), NULL;
    e->ans = p + off;
    // the records must be whole: ancount times 10 header bytes plus their rdlength
    size_t r = 0;
    for (uint16_t k = 0; k < e->ancount; k++) {
      if (r + 10 > e->alen) return table_free(t), NULL;
      r += 10 + (size_t)(e->ans[r + 8] << 8 | e->ans[r + 9]);
    }
    if (r != e->alen) return table_free(t), NULL;
    off += e->alen;
    uint32_t h = fnv(e->name, e->name_len, e->type) & t->mask;
    while (t->index[h] >= 0) h = (h + 1) & t->mask;
    t->index[h] = (int32_t)i;
  }
  if (off != len) return table_free(t), NULL;
  t->n = n;
  return t;
}

static const struct dns_entry *table_find(const struct dns_table *t, const uint8_t *name, size_t len, uint16_t type) {
  for (uint32_t h = fnv(name, len, type) & t->mask; t->index[h] >= 0; h = (h + 1) & t->mask) {
    const struct dns_entry *e = &t->entries[t->index[h]];
    if (e->type == type && e->name_len == len && memcmp(e->name, name, len) == 0) return e;
  }
  return NULL;
}

// The head of a reply to query q (its question ending at question_end) into out: the header as
// dns-message.ts's buildResponse writes it (QR, AA, RD as asked, RA, rcode; one question, ancount
// answers) and the question as sent. Returns question_end (the length written).
static size_t reply_head(const uint8_t *q, size_t question_end, uint8_t *out, uint16_t ancount, uint8_t rcode) {
  uint16_t flags = q[2] << 8 | q[3];
  uint16_t rflags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | (rcode & 0xf);
  out[0] = q[0];
  out[1] = q[1];
  out[2] = rflags >> 8;
  out[3] = rflags & 0xff;
  out[4] = 0;
  out[5] = 1;
  out[6] = ancount >> 8;
  out[7] = ancount & 0xff;
  memset(out + 8, 0, 4);
  memcpy(out + 12, q + 12, question_end - 12);
  return question_end;
}

enum verdict { V_MAIN_LOOP, V_ANSWER, V_FORWARD };

static int is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// What to do with query q (n bytes) under table t: V_ANSWER with the answer in out (*outlen
// bytes), V_FORWARD (plain, not ours: *question_end set), or V_MAIN_LOOP for anything else: not
// one plain question (labels only, ASCII without '.', class IN) with at most one additional
// record with the root name (EDNS's OPT), an entry that says so, or a name without an entry when
// the table does not let this thread forward (or its first label looks like an ID prefix).
// An answer is byte for byte what dns-message.ts's buildResponse makes: the question as sent, each
// record's owner name the question's name as sent.
static enum verdict answer(const struct dns_table *t, const uint8_t *q, size_t n, uint8_t *out, size_t cap, size_t *outlen, size_t *question_endp) {
  if (!t || n < 12) return V_MAIN_LOOP;
  uint16_t flags = q[2] << 8 | q[3];
  if (flags & 0xf800) return V_MAIN_LOOP; // a response, or an opcode other than QUERY
  if (q[4] != 0 || q[5] != 1 || q[6] || q[7] || q[8] || q[9] || q[10] || q[11] > 1) return V_MAIN_LOOP;
  uint8_t lower[256];
  size_t off = 12, ln = 0;
  for (;;) {
    if (off >= n) return V_MAIN_LOOP;
    uint8_t l = q[off];
    if (l & 0xc0) return V_MAIN_LOOP; // compressed (JavaScript follows it)
    if (ln + 1 + l > sizeof lower || off + 1 + l > n) return V_MAIN_LOOP;
    lower[ln++] = l;
    off++;
    if (l == 0) break;
    for (uint8_t i = 0; i < l; i++, off++) {
      uint8_t c = q[off];
      // '.' inside a label and non-ASCII bytes: JavaScript's reading of the name differs from a
      // byte comparison (it joins labels with '.', lowercases Latin-1)
      if (c == '.' || c >= 0x80) return V_MAIN_LOOP;
      lower[ln++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
  }
  size_t qname_end = off;
  if (off + 4 > n) return V_MAIN_LOOP;
  uint16_t qtype = q[off] << 8 | q[off + 1];
  uint16_t qclass = q[off + 2] << 8 | q[off + 3];
  off += 4;
  if (qclass != 1) return V_MAIN_LOOP;
  size_t question_end = off;
  if (q[11] == 1) {
    // root name, fixed header, rdata inside the packet; not a type whose rdata is read as a name
    if (off + 11 > n || q[off] != 0) return V_MAIN_LOOP;
    uint16_t type = q[off + 1] << 8 | q[off + 2];
    if (type == 2 || type == 5 || type == 12) return V_MAIN_LOOP;
    if (off + 11 + (size_t)(q[off + 9] << 8 | q[off + 10]) > n) return V_MAIN_LOOP;
  }
  *question_endp = question_end;
  const struct dns_entry *e = table_find(t, lower, ln, qtype);
  if (!e) e = table_find(t, lower, ln, 0);
  if (!e || e->kind == 2) {
    if (!t->forward) return V_MAIN_LOOP;
    if (!e && t->hexmin && lower[0] >= t->hexmin) {
      int hex = 1;
      for (size_t i = 1; i <= lower[0] && hex; i++) hex = is_hex(lower[i]);
      if (hex) return V_MAIN_LOOP;
    }
    return V_FORWARD;
  }
  if (e->kind != 0) return V_MAIN_LOOP;
  size_t qname_len = qname_end - 12;
  size_t need = question_end + (size_t)e->ancount * qname_len + e->alen;
  if (need > cap) return V_MAIN_LOOP;
  size_t w = reply_head(q, question_end, out, e->ancount, e->rcode), r = 0;
  for (uint16_t k = 0; k < e->ancount; k++) {
    size_t rr = 10 + (size_t)(e->ans[r + 8] << 8 | e->ans[r + 9]);
    memcpy(out + w, q + 12, qname_len);
    w += qname_len;
    memcpy(out + w, e->ans + r, rr);
    w += rr;
    r += rr;
  }
  *outlen = w;
  return V_ANSWER;
}

static struct dns_listener *find_listener(struct dns_server *s, int32_t lid) {
  for (size_t i = 0; i < s->nls; i++)
    if (s->ls[i].lid == lid) return &s->ls[i];
  return NULL;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// Sends `data` to the asker from listener lid's socket, if it is still open. Called with mu held.
static void send_to_asker(struct dns_server *s, int32_t lid, const struct sockaddr_in *to, const uint8_t *data, size_t len) {
  struct dns_listener *l = find_listener(s, lid);
  // the asker's resolver may be gone: nothing to tell anyone
  if (l) (void)sendto(l->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof *to);
}

// Ends forward `slot`: the reply (NULL: SERVFAIL) to the asker, the socket closed.
static void fwd_finish(struct dns_server *s, int slot, const uint8_t *reply, size_t len) {
  struct dns_fwd *f = s->fwd[slot];
  if (reply) send_to_asker(s, f->lid, &f->client, reply, len);
  else {
    uint8_t out[DNS_MAX_PACKET];
    size_t w = reply_head(f->q, f->question_end, out, 0, 2);
    send_to_asker(s, f->lid, &f->client, out, w);
  }
  if (f->fd >= 0) close(f->fd);
  free(f);
  s->fwd[slot] = NULL;
}

// Sends forward `slot`'s query to its next upstream that takes it; none left: SERVFAIL.
static void fwd_try(struct dns_server *s, int slot) {
  struct dns_fwd *f = s->fwd[slot];
  if (f->fd >= 0) close(f->fd); // (closing removes it from the epoll set)
  f->fd = -1;
  for (; f->cur < f->ups.n; f->cur++) {
    const struct sockaddr *to = (const struct sockaddr *)&f->ups.addr[f->cur];
    int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    f->gen = ++s->fwdgen & 0xffffffu;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_FWD | (uint64_t)f->gen << 16 | (uint64_t)slot};
    if (connect(fd, to, f->ups.len[f->cur]) < 0 || send(fd, f->q, f->len, MSG_DONTWAIT) < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      continue;
    }
    f->fd = fd;
    f->deadline_ms = now_ms() + f->ups.timeout_ms;
    return;
  }
  fwd_finish(s, slot, NULL, 0);
}

// Starts forwarding query q for listener l; 0 when it cannot (JavaScript then does it).
static int fwd_start(struct dns_server *s, struct dns_listener *l, const struct sockaddr_in *from, const uint8_t *q, size_t n, size_t question_end) {
  const struct dns_upstreams *u = &s->ups[l->ups];
  if (u->n == 0) {
    uint8_t out[DNS_MAX_PACKET];
    size_t w = reply_head(q, question_end, out, 0, 2);
    send_to_asker(s, l->lid, from, out, w);
    return 1;
  }
  int slot = -1;
  for (int i = 0; i < DNS_MAX_FORWARDS && slot < 0; i++)
    if (!s->fwd[i]) slot = i;
  if (slot < 0) return 0;
  struct dns_fwd *f = malloc(sizeof *f + n);
  if (!f) return 0;
  f->fd = -1;
  f->lid = l->lid;
  f->client = *from;
  f->ups = *u;
  f->cur = 0;
  f->len = n;
  f->question_end = question_end;
  memcpy(f->q, q, n);
  s->fwd[slot] = f;
  fwd_try(s, slot);
  return 1;
}

// A forward's socket is readable: the reply, or an error (ICMP refused: the next upstream).
static void fwd_readable(struct dns_server *s, int slot, uint32_t gen) {
  struct dns_fwd *f = s->fwd[slot];
  if (!f || f->gen != gen || f->fd < 0) return; // ended, or an earlier try's event
  uint8_t *in = s->reply;
  for (;;) {
    ssize_t n = recv(f->fd, in, DNS_MAX_REPLY, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      f->cur++;
      fwd_try(s, slot);
      return;
    }
    if ((size_t)n > DNS_MAX_REPLY || n < 2 || in[0] != f->q[0] || in[1] != f->q[1]) continue; // not the answer
    fwd_finish(s, slot, in, (size_t)n);
    return;
  }
}

// Forwards past their deadline try their next upstream; returns the ms until the next deadline
// (-1: none). Called with mu held.
static int fwd_timeouts(struct dns_server *s) {
  uint64_t now = now_ms(), next = UINT64_MAX;
  for (int i = 0; i < DNS_MAX_FORWARDS; i++) {
    struct dns_fwd *f = s->fwd[i];
    if (!f) continue;
    if (f->deadline_ms <= now) {
      f->cur++;
      fwd_try(s, i);
      f = s->fwd[i];
      if (!f) continue;
    }
    if (f->deadline_ms < next) next = f->deadline_ms;
  }
  if (next == UINT64_MAX) return -1;
  return next <= now ? 0 : (int)(next - now);
}

// Reads what is queued on one listener (a bounded batch: the others get their turn). Called with mu held.
static void serve(struct dns_server *s, struct dns_listener *l) {
  uint8_t in[DNS_MAX_PACKET], out[DNS_MAX_PACKET];
  for (int i = 0; i < 64; i++) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(l->fd, in, sizeof in, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fl);
    if (n < 0) return; // EAGAIN; an ICMP error from a vanished asker is nothing to act on either
    if ((size_t)n > sizeof in || from.sin_family != AF_INET) continue; // too big for a query of ours
    const struct dns_table *t = l->table >= 0 && (size_t)l->table < s->ntables ? s->tables[l->table] : NULL;
    size_t a = 0, question_end = 0;
    enum verdict v = answer(t, in, (size_t)n, out, sizeof out, &a, &question_end);
    if (v == V_ANSWER) {
      send_to_asker(s, l->lid, &from, out, a);
      continue;
    }
    if (v == V_FORWARD && l->ups >= 0 && (size_t)l->ups < s->nups && fwd_start(s, l, &from, in, (size_t)n, question_end)) continue;
    struct dns_miss *m = malloc(sizeof *m + (size_t)n);
    if (!m) continue;
    m->lid = l->lid;
    m->addr = from.sin_addr.s_addr;
    m->port = ntohs(from.sin_port);
    m->len = (uint16_t)n;
    memcpy(m->data, in, (size_t)n);
    if (napi_call_threadsafe_function(s->tsfn, m, napi_tsfn_nonblocking) != napi_ok) free(m);
  }
}

static void *dns_thread(void *arg) {
  struct dns_server *s = arg;
  struct epoll_event ev[16];
  int timeout = -1;
  for (;;) {
    int n = epoll_wait(s->epfd, ev, 16, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL; // cannot happen with a valid epfd; dnsStop still joins
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
      pthread_mutex_unlock(&s->mu);
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      uint64_t d = ev[i].data.u64;
      if (d == EV_WAKE) continue;
      if (d & EV_FWD) {
        fwd_readable(s, (int)(d & 0xffff), (uint32_t)(d >> 16) & 0xffffffu);
        continue;
      }
      struct dns_listener *l = find_listener(s, (int32_t)d);
      if (l) serve(s, l);
    }
    timeout = fwd_timeouts(s);
    pthread_mutex_unlock(&s->mu);
  }
}

// On the main loop: a miss for JavaScript, as onMiss(lid, packet, address, port).
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  struct dns_miss *m = data;
  if (env && cb) {
    napi_value argv[4], undef;
    char ip[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = m->addr};
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    void *copy;
    napi_create_int32(env, m->lid, &argv[0]);
    napi_create_buffer_copy(env, m->len, m->data, &copy, &argv[1]);
    napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &argv[2]);
    napi_create_uint32(env, m->port, &argv[3]);
    napi_get_undefined(env, &undef);
    if (napi_call_function(env, undef, cb, 4, argv, NULL) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  free(m);
}

static void server_stop(struct dns_server *s) {
  if (!s->running) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  for (size_t i = 0; i < s->nls; i++) close(s->ls[i].fd);
  s->nls = 0;
  for (int i = 0; i < DNS_MAX_FORWARDS; i++) {
    if (!s->fwd[i]) continue;
    if (s->fwd[i]->fd >= 0) close(s->fwd[i]->fd);
    free(s->fwd[i]);
    s->fwd[i] = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  uint64_t one = 1;
  (void)!write(s->evfd, &one, sizeof one);
  pthread_join(s->thread, NULL);
  s->running = 0;
  close(s->epfd);
  close(s->evfd);
  for (size_t i = 0; i < s->ntables; i++) table_free(s->tables[i]);
  free(s->tables);
  s->tables = NULL;
  s->ntables = 0;
  free(s->ups);
  s->ups = NULL;
  s->nups = 0;
  free(s->reply);
  s->reply = NULL;
  free(s->ls);
  s->ls = NULL;
  s->capls = 0;
  // queued misses are freed by call_js with env NULL
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
}

static void server_finalize(napi_env env, void *data, void *hint) {
  struct dns_server *s = data;
  server_stop(s);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static struct dns_server *server_arg(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "expected a DNS server handle");
    return NULL;
  }
  struct dns_server *s = p;
  if (!s->running) {
    hk_throw_errno(env, "embedded DNS (stopped)", EBADF);
    return NULL;
  }
  return s;
}

// dnsStart(onMiss) → handle: the answering thread, running with no listener yet.
static napi_value js_dns_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  struct dns_server *s = calloc(1, sizeof *s);
  if (!s) return hk_throw_errno(env, "embedded DNS", ENOMEM);
  pthread_mutex_init(&s->mu, NULL);
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int err = s->epfd < 0 || s->evfd < 0 ? errno : 0;
  // (pages touched only by replies that big)
  if (!err && !(s->reply = malloc(DNS_MAX_REPLY))) err = ENOMEM;
  const char *what = "epoll_create1/eventfd";
  if (!err) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_WAKE};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) < 0) err = errno, what = "epoll_ctl";
  }
  napi_value name;
  if (!err) {
    napi_create_string_utf8(env, "hako.dns", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, argv[0], NULL, name, DNS_MAX_MISSES, 1, NULL, NULL, NULL, call_js, &s->tsfn) != napi_ok)
      err = EINVAL, what = "napi_create_threadsafe_function";
  }
  if (!err) {
    // The misses' deliveries do not keep the daemon alive.
    napi_unref_threadsafe_function(env, s->tsfn);
    err = hk_start_thread(&s->thread, 0, dns_thread, s);
    what = "pthread_create";
    if (err) napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
  }
  if (err) {
    if (s->epfd >= 0) close(s->epfd);
    if (s->evfd >= 0) close(s->evfd);
    free(s->reply);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return hk_throw_errno(env, what, err);
  }
  s->running = 1;
  napi_value h;
  if (napi_create_external(env, s, server_finalize, NULL, &h) != napi_ok) {
    server_stop(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  return h;
}

// dnsListen(handle, lid, fd, table): answers on fd (a bound UDP socket; the server owns it once
// this returned) with table number `table` (-1: none yet). Throws when it could not (fd still the caller's).
static napi_value js_dns_listen(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t lid, fd, table;
  if (hk_args(env, info, 4, 4, argv, NULL)) return NULL;
  struct dns_server *s = server_arg(env, argv[0]);
  if (!s || hk_int32(env, argv[1], &lid) || hk_int32(env, argv[2], &fd) || hk_int32(env, argv[3], &table)) return NULL;
  pthread_mutex_lock(&s->mu);
  int err = 0;
  const char *what = "embedded DNS listen";
  if (find_listener(s, lid)) err = EEXIST;
  else if (s->nls == s->capls) {
    size_t cap = s->capls ? s->capls * 2 : 8;
    struct dns_listener *ls = realloc(s->ls, cap * sizeof *ls);
    if (!ls) err = ENOMEM;
    else s->ls = ls, s->capls = cap;
  }
  if (!err) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uint32_t)lid};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) err = errno, what = "epoll_ctl";
  }
  if (!err) s->ls[s->nls++] = (struct dns_listener){.lid = lid, .fd = fd, .table = table, .ups = -1};
  pthread_mutex_unlock(&s->mu);
  if (err) return hk_throw_errno(env, what, err);
  return NULL;
}

// dnsClose(handle, lid) → whether it was open: its socket is closed when this returns.
static napi_value js_dns_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t lid;
  if (hk_args(env, info, 2, 2, argv, NULL)) return NULL;
  struct dns_server *s = server_arg(env, argv[0]);
  if (!s || hk_int32(env, argv[1], &lid)) return NULL;
  pthread_mutex_lock(&s->mu);
  struct dns_listener *l = find_listener(s, lid);
  if (l) {
    // (closing the fd removes it from the epoll set: the server holds no other copy of it)
    close(l->fd);
    *l = s->ls[--s->nls];
  }
  pthread_mutex_unlock(&s->mu);
  napi_value r;
  napi_get_boolean(env, l != NULL, &r);
  return r;
}

// Parses an upstream set (struct dns_upstreams' comment); 0 or EINVAL.
static int upstreams_parse(const uint8_t *p, size_t len, struct dns_upstreams *u) {
  if (len < 5) return EINVAL;
  u->timeout_ms = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
  u->n = p[4];
  if (u->n > DNS_MAX_UPSTREAMS || len != 5 + (size_t)u->n * 19) return EINVAL;
  for (uint8_t i = 0; i < u->n; i++) {
    const uint8_t *e = p + 5 + i * 19;
    uint16_t port = e[17] << 8 | e[18];
    memset(&u->addr[i], 0, sizeof u->addr[i]);
    if (e[0] == 4) {
      struct sockaddr_in *a = (struct sockaddr_in *)&u->addr[i];
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      memcpy(&a->sin_addr, e + 1, 4);
      u->len[i] = sizeof *a;
    } else if (e[0] == 6) {
      u->addr[i].sin6_family = AF_INET6;
      u->addr[i].sin6_port = htons(port);
      memcpy(&u->addr[i].sin6_addr, e + 1, 16);
      u->len[i] = sizeof u->addr[i];
    } else {
      return EINVAL;
    }
  }
  return 0;
}

// dnsTables(handle, tables: Buffer[], upstreams: Buffer[], assign: Int32Array [lid, table,
// upstreams, …]): replaces every table and upstream set at once; a listener not in `assign`
// keeps neither (everything to JavaScript). Throws EINVAL when one is malformed.
static napi_value js_dns_tables(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (hk_args(env, info, 4, 4, argv, NULL)) return NULL;
  struct dns_server *s = server_arg(env, argv[0]);
  if (!s) return NULL;
  uint32_t count, nups;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || napi_get_array_length(env, argv[2], &nups) != napi_ok)
    return napi_throw_type_error(env, NULL, "dnsTables: expected arrays of tables and upstream sets"), NULL;
  napi_typedarray_type tt;
  size_t alen;
  void *adata;
  if (napi_get_typedarray_info(env, argv[3], &tt, &alen, &adata, NULL, NULL) != napi_ok || tt != napi_int32_array || alen % 3)
    return napi_throw_type_error(env, NULL, "assign: expected an Int32Array of triples"), NULL;
  struct dns_table **tables = calloc(count ? count : 1, sizeof *tables);
  struct dns_upstreams *ups = calloc(nups ? nups : 1, sizeof *ups);
  int err = tables && ups ? 0 : ENOMEM;
  for (uint32_t i = 0; i < count && !err; i++) {
    napi_value b;
    void *data;
    size_t len;
    err = EINVAL;
    if (napi_get_element(env, argv[1], i, &b) == napi_ok && napi_get_buffer_info(env, b, &data, &len) == napi_ok) tables[i] = table_parse(data, len, &err);
    if (tables[i]) err = 0;
  }
  for (uint32_t i = 0; i < nups && !err; i++) {
    napi_value b;
    void *data;
    size_t len;
    err = EINVAL;
    if (napi_get_element(env, argv[2], i, &b) == napi_ok && napi_get_buffer_info(env, b, &data, &len) == napi_ok) err = upstreams_parse(data, len, &ups[i]);
  }
  if (err) {
    for (uint32_t k = 0; tables && k < count; k++) table_free(tables[k]);
    free(tables);
    free(ups);
    return hk_throw_errno(env, "dnsTables (a malformed table or upstream set)", err);
  }
  const int32_t *assign = adata;
  pthread_mutex_lock(&s->mu);
  struct dns_table **old = s->tables;
  size_t nold = s->ntables;
  struct dns_upstreams *oldups = s->ups;
  s->tables = tables;
  s->ntables = count;
  s->ups = ups;
  s->nups = nups;
  for (size_t i = 0; i < s->nls; i++) s->ls[i].table = s->ls[i].ups = -1;
  for (size_t k = 0; k + 2 < alen; k += 3) {
    struct dns_listener *l = find_listener(s, assign[k]);
    if (!l) continue;
    l->table = assign[k + 1] >= 0 && (uint32_t)assign[k + 1] < count ? assign[k + 1] : -1;
    l->ups = assign[k + 2] >= 0 && (uint32_t)assign[k + 2] < nups ? assign[k + 2] : -1;
  }
  pthread_mutex_unlock(&s->mu);
  for (size_t i = 0; i < nold; i++) table_free(old[i]);
  free(old);
  free(oldups);
  return NULL;
}

// dnsSend(handle, lid, data, ip, port) → whether the listener was still open (and sendto tried).
static napi_value js_dns_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t lid;
  uint32_t port;
  if (hk_args(env, info, 5, 5, argv, NULL)) return NULL;
  struct dns_server *s = server_arg(env, argv[0]);
  if (!s || hk_int32(env, argv[1], &lid) || hk_uint32(env, argv[4], &port)) return NULL;
  void *data;
  size_t len;
  char ip[INET_ADDRSTRLEN];
  size_t iplen;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[3], ip, sizeof ip, &iplen) != napi_ok || inet_pton(AF_INET, ip, &to.sin_addr) != 1)
    return napi_throw_type_error(env, NULL, "dnsSend: expected (handle, lid, Buffer, IPv4 address, port)"), NULL;
  pthread_mutex_lock(&s->mu);
  struct dns_listener *l = find_listener(s, lid);
  if (l) (void)sendto(l->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
  pthread_mutex_unlock(&s->mu);
  napi_value r;
  napi_get_boolean(env, l != NULL, &r);
  return r;
}

// dnsStop(handle): closes every listener before it returns, and ends the thread.
static napi_value js_dns_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || !p) return napi_throw_type_error(env, NULL, "expected a DNS server handle"), NULL;
  server_stop(p);
  return NULL;
}

// dnsAnswer(table, query) → the answer the thread sends, 'forward' when it forwards the query
// itself (given upstreams), or null when it hands it to JavaScript (tests).
static napi_value js_dns_answer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (hk_args(env, info, 2, 2, argv, NULL)) return NULL;
  void *tb, *qb;
  size_t tl, ql;
  if (napi_get_buffer_info(env, argv[0], &tb, &tl) != napi_ok || napi_get_buffer_info(env, argv[1], &qb, &ql) != napi_ok)
    return napi_throw_type_error(env, NULL, "dnsAnswer: expected (Buffer, Buffer)"), NULL;
  int err;
  struct dns_table *t = table_parse(tb, tl, &err);
  if (!t) return hk_throw_errno(env, "dnsAnswer (a malformed table)", err);
  uint8_t out[DNS_MAX_PACKET];
  size_t a = 0, question_end = 0;
  enum verdict v = answer(t, qb, ql, out, sizeof out, &a, &question_end);
  table_free(t);
  napi_value r;
  if (v == V_ANSWER) {
    void *copy;
    napi_create_buffer_copy(env, a, out, &copy, &r);
  } else if (v == V_FORWARD) {
    napi_create_string_utf8(env, "forward", NAPI_AUTO_LENGTH, &r);
  } else {
    napi_get_null(env, &r);
  }
  return r;
}

HK_EXPORT("dnsStart", js_dns_start);
HK_EXPORT("dnsListen", js_dns_listen);
HK_EXPORT("dnsClose", js_dns_close);
HK_EXPORT("dnsTables", js_dns_tables);
HK_EXPORT("dnsSend", js_dns_send);
HK_EXPORT("dnsStop", js_dns_stop);
HK_EXPORT("dnsAnswer", js_dns_answer);
