// hako-monitor: the per-container supervisor. It is the container's real parent, so containers
// outlive the daemon: it holds the container's stdio (pipes, or the pty master), writes docker's
// json-file log with rotation, serves attach/resize/close-stdin on a unix socket in the state dir,
// reaps the container through its pidfd, writes dir/exit.json atomically and exits once the output
// is drained. Single-threaded poll loop; no stdio, few allocations (RSS matters: one per container).
//
// Started by the executor's `fork` op (see docs/executor-plan.md): it is exec'd by the process
// that forked the container, with the container's pidfd and the host ends of its stdio as fds.
//
// Usage: hako-monitor --dir DIR --pidfd N [--stdout N --stderr N] [--stdin N] [--pty-socket N]
//                     [--log PATH] [--log-max-size BYTES] [--log-max-files N]
//                     [--cgroup-memory DIR] [--stdin-once] [--console-size ROWS,COLS]
//                     [--hold-output N] [--client-fd N]...
//
// --hold-output N: leave the container's output unread (in its pipe or pty, so the container
// blocks once that is full) until N clients have said HELLO asking for stdout or stderr, or
// HOLD_MS passed. The engine passes it when clients attached before the start (docker run,
// start -a): they connect right after the launch and must not miss the first bytes.
//
// --client-fd N (repeatable, at most MAX_HANDED): a control-protocol client already connected (one
// end of a socketpair whose other end the engine keeps). The engine hands those of the clients
// that attached before the start, with their HELLO already written: the monitor reads it on its
// first poll, so held output flows (and a quick container's exit is reported) without waiting
// for the engine to connect to control.sock after the launch.
//
// Control protocol (src/engine/monitor/protocol.ts is the other side): frames of an 8-byte header
// {u8 type, 3 zero bytes, u32 big-endian payload length} + payload, in both directions.
//   client → monitor: 0x10 HELLO {u8 streams: 1 stdin, 2 stdout, 4 stderr} (first frame),
//                     0x00 STDIN data, 0x12 RESIZE {u16 rows, u16 cols, big-endian}, 0x13 CLOSE_STDIN
//   monitor → client: 0x11 INFO (JSON, reply to HELLO), 0x01 STDOUT, 0x02 STDERR (docker's stdcopy
//                     header), 0x03 EXIT (exit.json's JSON); then the monitor shuts down its side (EOF)
//                     and closes once the client has closed (LINGER_MS at most), so a late client
//                     write never meets EPIPE with output still unread.
// Slow clients: while a client has more than 4 MiB queued the monitor stops reading the
// container's output, for as long as that client stays connected: the container then blocks on
// its full pipe, as with docker (its attach streams block stdout while unconsumed; a `docker run`
// into a stalled reader holds the container, and the reader gets every byte once it reads). Each
// client's queue stays below 8 MiB. A client that went away gets no more output at once (its
// socket reads EOF or fails, or a send fails: it is polled for input even while the output is
// held), which lets the output flow again; it is dropped once the STDIN frames it sent went in
// (dockerd copies a gone attach client's stdin to its end). (Until session 14 a client over
// 4 MiB for 2 s was dropped: `hako run … | (sleep 5; wc -l)` got 104813 of 3000000 lines, the
// CLI then waited for the container's exit.) After the exit, such a client holds the exit for as
// long as it stays connected, and a client still taking its queue keeps it (see the end of main).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> // rename() only: no stdio streams are used
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define MAX_CLIENTS 32
#define CLIENT_OUT_MAX (8u << 20)  // hard cap of one client's queue
#define CLIENT_OUT_SOFT (4u << 20) // above this, output reading pauses until the client took some
#define CLIENT_IN_MAX (32u * 1024 + 8)
#define MAX_FRAME (32u * 1024)
#define PARTIAL_MAX (16u * 1024) // docker flushes a line without '\n' at 16 KiB
#define STDIN_MAX (64u * 1024)
#define READ_CHUNK (32u * 1024)
#define HOLD_MS 5000
#define LINGER_MS 2000 // after the exit and a client's last frame: at most this long for it to close
#define MAX_HANDED 8

enum { F_STDIN = 0x00, F_STDOUT = 0x01, F_STDERR = 0x02, F_EXIT = 0x03, F_HELLO = 0x10, F_INFO = 0x11, F_RESIZE = 0x12, F_CLOSE_STDIN = 0x13 };
enum { WANT_STDIN = 1, WANT_STDOUT = 2, WANT_STDERR = 4 };

struct client {
  int fd;
  int hello;         // HELLO received
  unsigned want;     // WANT_* bits
  char *out;         // queued output (malloc'd on demand)
  size_t outlen, outoff;
  char *in;          // partial incoming frames
  size_t inlen;
  int counted;       // counted against --hold-output
  int shut;          // after the exit: our side shut down, waiting for the client to close
  long long shut_at; // mono ms of the shutdown (it has LINGER_MS from then to close)
  int hup;           // its peer is gone (POLLHUP): what it sent is still to be read
  int in_eof;        // its input ended (EOF or error after the last byte): kept until its stdin went in
};

struct stream {
  int fd;            // read end, -1 once at EOF
  const char *name;  // "stdout" / "stderr"
  int frame;         // F_STDOUT / F_STDERR
  char line[PARTIAL_MAX];
  size_t len;
};

static struct {
  const char *dir, *log_path, *cgroup_mem;
  long long log_max_size;
  int log_max_files;
  int pidfd, pty_sock, pty, stdin_fd, listen_fd, log_fd;
  int tty, stdin_once, stdin_closed;
  int stdin_eof; // stdin is to close once stdin_buf went to the container (CLOSE_STDIN, StdinOnce)
  long long log_size;
  int log_failing; /* the last log write failed (said once in monitor.log) */
  pid_t pid;
  struct stream out[2];
  struct client clients[MAX_CLIENTS];
  char stdin_buf[STDIN_MAX];
  size_t stdin_len;
  int pending_rows, pending_cols;
  long long oom_base;
  int hold_clients;     // --hold-output: clients still awaited before output is read
  long long hold_until; // mono ms: give up waiting for them
  int exited;
  siginfo_t status;
} m;

static char json_buf[PARTIAL_MAX * 6 + 256];
static void close_stdin(void);
static void close_stdin_after_buffer(void);
static void stop_output(struct client *c);
static char read_buf[READ_CHUNK];

// ---------------------------------------------------------------------------------------------
// small helpers (no stdio)

static size_t cat(char *dst, size_t at, const char *s) {
  size_t n = strlen(s);
  memcpy(dst + at, s, n);
  dst[at + n] = 0;
  return at + n;
}

static size_t cat_num(char *dst, size_t at, long long v) {
  char tmp[24];
  int k = 0;
  unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
  do { tmp[k++] = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) dst[at++] = '-';
  while (k) dst[at++] = tmp[--k];
  dst[at] = 0;
  return at;
}

/** 0 once all of p is written; -1 after a failed write (errno; a part may be written). */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    if (w == 0) { errno = ENOSPC; return -1; }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/** Appends a line to dir/monitor.log: the monitor's own diagnostics (its stderr is /dev/null). */
static void diag(const char *what, int err) {
  char msg[512];
  size_t n = cat(msg, 0, "hako-monitor: ");
  n = cat(msg, n, what);
  if (err) { n = cat(msg, n, ": errno "); n = cat_num(msg, n, err); }
  n = cat(msg, n, "\n");
  int fd = open("monitor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) { write_all(fd, msg, n); close(fd); }
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static size_t pad2(char *dst, size_t at, int v) {
  dst[at++] = (char)('0' + v / 10 % 10);
  dst[at++] = (char)('0' + v % 10);
  return at;
}

/** RFC3339Nano in UTC, trailing zeros of the fraction trimmed (Go's time.RFC3339Nano). */
static size_t rfc3339nano(char *dst, size_t at, long long ns) {
  time_t secs = (time_t)(ns / 1000000000LL);
  long frac = (long)(ns % 1000000000LL);
  // civil from days (proleptic Gregorian), no locale or tz database involved
  long long days = secs / 86400, rem = secs % 86400;
  long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long y = (long long)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned mo = mp < 10 ? mp + 3 : mp - 9;
  if (mo <= 2) y++;
  at = cat_num(dst, at, y);
  dst[at++] = '-'; at = pad2(dst, at, (int)mo);
  dst[at++] = '-'; at = pad2(dst, at, (int)d);
  dst[at++] = 'T'; at = pad2(dst, at, (int)(rem / 3600));
  dst[at++] = ':'; at = pad2(dst, at, (int)(rem / 60 % 60));
  dst[at++] = ':'; at = pad2(dst, at, (int)(rem % 60));
  if (frac) {
    char f[9];
    for (int k = 8; k >= 0; k--) { f[k] = (char)('0' + frac % 10); frac /= 10; }
    int len = 9;
    while (len > 0 && f[len - 1] == '0') len--;
    dst[at++] = '.';
    memcpy(dst + at, f, (size_t)len);
    at += (size_t)len;
  }
  dst[at++] = 'Z';
  dst[at] = 0;
  return at;
}

/** Length of a valid UTF-8 sequence at p (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
  else return 0;
  if (n < len) return 0;
  unsigned cp = c & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; k++) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/** A JSON string body like Go's encoding/json: HTML-safe escapes, invalid UTF-8 → U+FFFD. */
static size_t json_str(char *dst, size_t at, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  size_t k = 0;
  while (k < n) {
    unsigned char c = p[k];
    if (c >= 0x80) {
      size_t len = utf8_len(p + k, n - k);
      if (len == 0) { at = cat(dst, at, "\\ufffd"); k++; continue; }
      // U+2028/U+2029 are escaped by Go too
      if (len == 3 && c == 0xE2 && p[k + 1] == 0x80 && (p[k + 2] == 0xA8 || p[k + 2] == 0xA9)) {
        at = cat(dst, at, p[k + 2] == 0xA8 ? "\\u2028" : "\\u2029");
      } else {
        memcpy(dst + at, p + k, len);
        at += len;
      }
      k += len;
      continue;
    }
    switch (c) {
    case '"': dst[at++] = '\\'; dst[at++] = '"'; break;
    case '\\': dst[at++] = '\\'; dst[at++] = '\\'; break;
    case '\n': dst[at++] = '\\'; dst[at++] = 'n'; break;
    case '\r': dst[at++] = '\\'; dst[at++] = 'r'; break;
    case '\t': dst[at++] = '\\'; dst[at++] = 't'; break;
    default:
      if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
        if (c == 0x7f) { dst[at++] = (char)c; break; }
        dst[at++] = '\\'; dst[at++] = 'u'; dst[at++] = '0'; dst[at++] = '0';
        dst[at++] = hex[c >> 4]; dst[at++] = hex[c & 15];
      } else {
        dst[at++] = (char)c;
      }
    }
    k++;
  }
  dst[at] = 0;
  return at;
}

// ---------------------------------------------------------------------------------------------
// json-file log

static void log_open(int trunc) {
  m.log_fd = open(m.log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : O_APPEND), 0640);
  if (m.log_fd < 0) { diag("open the log file", errno); return; }
  if (trunc) { close(m.log_fd); m.log_fd = open(m.log_path, O_WRONLY | O_APPEND | O_CLOEXEC); }
  struct stat st;
  m.log_size = (m.log_fd >= 0 && fstat(m.log_fd, &st) == 0) ? st.st_size : 0;
}

/** docker's rotation: <log>.N-1 is dropped, <log>.k → <log>.k+1, <log> → <log>.1, new <log>. */
static void log_rotate(void) {
  if (m.log_fd >= 0) close(m.log_fd);
  m.log_fd = -1;
  if (m.log_max_files >= 2) {
    size_t plen = strlen(m.log_path);
    char *from = malloc(plen + 16), *to = malloc(plen + 16);
    if (from && to) {
      for (int k = m.log_max_files - 1; k >= 1; k--) {
        memcpy(to, m.log_path, plen);
        to[plen] = '.';
        cat_num(to, plen + 1, k);
        if (k == 1) {
          memcpy(from, m.log_path, plen + 1);
        } else {
          memcpy(from, m.log_path, plen);
          from[plen] = '.';
          cat_num(from, plen + 1, k - 1);
        }
        if (rename(from, to) < 0 && errno != ENOENT) diag("rotate the log file", errno);
      }
    }
    free(from);
    free(to);
  }
  log_open(1); // max-file 1: truncate in place, like docker
}

static void log_entry(const struct stream *s, const char *data, size_t n) {
  if (!m.log_path) return;
  if (m.log_fd < 0) return;
  if (m.log_max_size > 0 && m.log_size >= m.log_max_size) {
    log_rotate();
    if (m.log_fd < 0) return;
  }
  size_t at = cat(json_buf, 0, "{\"log\":\"");
  at = json_str(json_buf, at, data, n);
  at = cat(json_buf, at, "\",\"stream\":\"");
  at = cat(json_buf, at, s->name);
  at = cat(json_buf, at, "\",\"time\":\"");
  at = rfc3339nano(json_buf, at, now_ns());
  at = cat(json_buf, at, "\"}\n");
  if (write_all(m.log_fd, json_buf, at) != 0) {
    // A full disk (ENOSPC, EDQUOT) takes the part of an entry that fits: write(2) returns a short
    // count, the next one the errno. The part is cut off again so that the file stays whole JSON
    // lines (the next entry would run on in the same line, which docker's reader and log
    // shippers fail on). The entry is lost, as dockerd's when its write fails; said once per run
    // of failures in monitor.log.
    int err = errno;
    if (ftruncate(m.log_fd, (off_t)m.log_size) != 0) diag("cut a partly written log entry", errno);
    if (!m.log_failing) diag("write the log (entries dropped until a write succeeds)", err);
    m.log_failing = 1;
    return;
  }
  m.log_failing = 0;
  m.log_size += (long long)at;
}

/** Splits output into log entries: one per line, a partial line flushed at PARTIAL_MAX or EOF. */
static void log_data(struct stream *s, const char *p, size_t n) {
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) + 1 : n;
    if (take > PARTIAL_MAX - s->len) take = PARTIAL_MAX - s->len;
    memcpy(s->line + s->len, p, take);
    s->len += take;
    p += take;
    n -= take;
    if (s->line[s->len - 1] == '\n' || s->len == PARTIAL_MAX) {
      log_entry(s, s->line, s->len);
      s->len = 0;
    }
  }
}

static void log_flush(struct stream *s) {
  if (s->len) log_entry(s, s->line, s->len);
  s->len = 0;
}

// ---------------------------------------------------------------------------------------------
// clients

static void drop_client(struct client *c) {
  if (c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  free(c->out);
  free(c->in);
  c->out = c->in = NULL;
  int had_stdin = (c->want & WANT_STDIN) != 0;
  c->want = 0;
  c->hello = 0;
  c->outlen = c->outoff = c->inlen = 0;
  c->shut = c->hup = c->in_eof = 0;
  if (had_stdin && m.stdin_once && !m.tty) {
    // docker's StdinOnce: stdin closes when the (first) attached client detaches; not with a
    // terminal (docker leaves a TTY's stdin open: detaching from `run -it` keeps the shell alive)
    close_stdin_after_buffer();
  }
}

/**
 * A send to the client failed (EPIPE, ECONNRESET: it is gone): no more output for it, but what
 * it sent is still read and its stdin frames go in (client_read drops it at the end of its input).
 */
static void output_failed(struct client *c) {
  c->hup = 1;
  stop_output(c);
}

static void client_flush(struct client *c) {
  while (c->fd >= 0 && c->outoff < c->outlen) {
    ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w <= 0) { output_failed(c); return; }
    c->outoff += (size_t)w;
  }
  if (c->fd >= 0) c->outlen = c->outoff = 0;
}

/** Queues a frame; a client that has more than CLIENT_OUT_MAX pending is disconnected. */
static void client_send(struct client *c, int type, const char *data, size_t n) {
  if (c->fd < 0) return;
  unsigned char hdr[8] = { (unsigned char)type, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n };
  size_t done = 0;
  if (c->outlen == 0) {
    // nothing queued: try to send directly
    struct iovec iov[2] = { { hdr, 8 }, { (void *)data, n } };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
    ssize_t w;
    do w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT); while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { output_failed(c); return; }
    done = w > 0 ? (size_t)w : 0;
    if (done == n + 8) return;
  }
  size_t left = n + 8 - done;
  if (c->outlen - c->outoff + left > CLIENT_OUT_MAX) { drop_client(c); return; }
  if (!c->out) {
    c->out = malloc(CLIENT_OUT_MAX);
    if (!c->out) { drop_client(c); return; }
  }
  if (c->outoff > 0) {
    memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
    c->outlen -= c->outoff;
    c->outoff = 0;
  }
  if (done < 8) {
    memcpy(c->out + c->outlen, hdr + done, 8 - done);
    c->outlen += 8 - done;
    memcpy(c->out + c->outlen, data, n);
    c->outlen += n;
  } else {
    memcpy(c->out + c->outlen, data + (done - 8), n - (done - 8));
    c->outlen += n - (done - 8);
  }
}

static void broadcast(int frame, const char *data, size_t n) {
  unsigned bit = frame == F_STDOUT ? WANT_STDOUT : WANT_STDERR;
  for (int k = 0; k < MAX_CLIENTS; k++) {
    struct client *c = &m.clients[k];
    if (c->fd >= 0 && c->hello && (c->want & bit)) client_send(c, frame, data, n);
  }
}

// ---------------------------------------------------------------------------------------------
// stdin and the pty

static void close_stdin(void) {
  if (m.stdin_closed) return;
  m.stdin_closed = 1;
  m.stdin_len = 0;
  if (m.tty) {
    // A pty cannot be half-closed: send the EOF character, as a terminal user would.
    if (m.pty >= 0) write_all(m.pty, "\x04", 1);
  } else if (m.stdin_fd >= 0) {
    close(m.stdin_fd);
    m.stdin_fd = -1;
  }
}

static int stdin_target(void) { return m.tty ? m.pty : m.stdin_fd; }

static void stdin_flush(void) {
  int fd = stdin_target();
  if (fd < 0 || m.stdin_closed) { m.stdin_len = 0; return; }
  size_t off = 0;
  while (off < m.stdin_len) {
    ssize_t w = write(fd, m.stdin_buf + off, m.stdin_len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w <= 0) { // EPIPE: the container closed its stdin
      m.stdin_len = 0;
      if (!m.tty) close_stdin();
      return;
    }
    off += (size_t)w;
  }
  memmove(m.stdin_buf, m.stdin_buf + off, m.stdin_len - off);
  m.stdin_len -= off;
  if (m.stdin_len == 0 && m.stdin_eof) close_stdin();
}

/**
 * The client's end of stdin (CLOSE_STDIN, or a StdinOnce client gone): the container gets EOF
 * after what it was sent and did not read yet (closing at once dropped up to STDIN_MAX bytes: `run
 * -i … sh -c 'sleep 2; wc -c'` fed 200 MiB counted 34 KB short).
 */
static void close_stdin_after_buffer(void) {
  if (m.stdin_len == 0) close_stdin();
  else m.stdin_eof = 1;
}

static void apply_resize(void) {
  if (m.pty < 0 || m.pending_rows <= 0 || m.pending_cols <= 0) return;
  struct winsize ws = { (unsigned short)m.pending_rows, (unsigned short)m.pending_cols, 0, 0 };
  if (ioctl(m.pty, TIOCSWINSZ, &ws) < 0) diag("resize the pty", errno);
}

/** The container's openPty op sends the master (SCM_RIGHTS) on the pty socket. */
static void receive_pty(void) {
  char data[64];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  do n = recvmsg(m.pty_sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
    memcpy(&m.pty, CMSG_DATA(cm), sizeof(int));
    fcntl(m.pty, F_SETFL, fcntl(m.pty, F_GETFL) | O_NONBLOCK);
    m.out[0].fd = m.pty;
    apply_resize();
  }
  close(m.pty_sock); // one message, or EOF (the container failed before openPty)
  m.pty_sock = -1;
}

// ---------------------------------------------------------------------------------------------
// control socket

static void send_info(struct client *c) {
  char info[128];
  size_t at = cat(info, 0, "{\"version\":1,\"tty\":");
  at = cat(info, at, m.tty ? "true" : "false");
  at = cat(info, at, ",\"pid\":");
  at = cat_num(info, at, m.pid);
  at = cat(info, at, ",\"stdin\":");
  at = cat(info, at, (m.stdin_fd >= 0 || m.tty) && !m.stdin_closed ? "true" : "false");
  at = cat(info, at, "}");
  client_send(c, F_INFO, info, at);
}

/** Whether the client's input holds a whole frame (one that waits for room in stdin_buf). */
static int frame_waiting(const struct client *c) {
  if (c->inlen < 8) return 0;
  const unsigned char *h = (const unsigned char *)c->in;
  size_t len = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
  return c->inlen >= 8 + len;
}

/** The client gets no more output (it is gone, or its input ended): it no longer holds the output. */
static void stop_output(struct client *c) {
  c->want &= WANT_STDIN;
  free(c->out);
  c->out = NULL;
  c->outlen = c->outoff = 0;
}

/** Parses complete frames in the client's input; a STDIN frame that finds stdin_buf full waits there. */
static void client_input(struct client *c) {
  size_t off = 0;
  while (c->fd >= 0 && c->inlen - off >= 8) {
    const unsigned char *h = (const unsigned char *)c->in + off;
    size_t len = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
    if (len > MAX_FRAME) { drop_client(c); return; }
    if (c->inlen - off < 8 + len) break;
    const char *p = c->in + off + 8;
    int type = h[0];
    if (!c->hello && type != F_HELLO) { drop_client(c); return; }
    if (type == F_HELLO) {
      c->hello = 1;
      c->want = len >= 1 ? (unsigned char)p[0] & 7u : 0;
      if (!c->counted && (c->want & (WANT_STDOUT | WANT_STDERR)) && m.hold_clients > 0) {
        c->counted = 1;
        m.hold_clients--;
      }
      send_info(c);
    } else if (type == F_STDIN) {
      if (!(c->want & WANT_STDIN) || m.stdin_closed) { /* ignored */ }
      else {
        if (STDIN_MAX - m.stdin_len < len) stdin_flush();
        if (STDIN_MAX - m.stdin_len < len) break; // backpressure: keep the frame, stop reading
        memcpy(m.stdin_buf + m.stdin_len, p, len);
        m.stdin_len += len;
        stdin_flush();
      }
    } else if (type == F_RESIZE && len >= 4) {
      const unsigned char *r = (const unsigned char *)p;
      m.pending_rows = (r[0] << 8) | r[1];
      m.pending_cols = (r[2] << 8) | r[3];
      apply_resize();
    } else if (type == F_CLOSE_STDIN) {
      close_stdin_after_buffer();
    }
    off += 8 + len;
  }
  if (c->fd >= 0 && off > 0) {
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
  }
  if (c->fd >= 0 && c->in_eof && !frame_waiting(c)) drop_client(c); // its last stdin went in
}

static void client_read(struct client *c) {
  if (!c->in) {
    c->in = malloc(CLIENT_IN_MAX);
    if (!c->in) { drop_client(c); return; }
  }
  // A whole frame waits for room in stdin_buf: read nothing more yet (a recv of 0 bytes would
  // read as EOF, and the client's stdin with it would be dropped).
  if (c->inlen == CLIENT_IN_MAX) return;
  ssize_t n;
  do n = recv(c->fd, c->in + c->inlen, CLIENT_IN_MAX - c->inlen, MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    // EOF, or an error (a reset comes after the last byte it sent): its input ended. The stdin
    // frames it sent still go to the container, as dockerd's attach copies a gone client's stdin
    // to its end; it gets no more output (and so holds none) and is dropped once they went in.
    c->in_eof = 1;
    stop_output(c);
    client_input(c);
    if (c->fd >= 0 && !frame_waiting(c)) drop_client(c);
    return;
  }
  c->inlen += (size_t)n;
  client_input(c);
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept4(m.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    struct client *slot = NULL;
    for (int k = 0; k < MAX_CLIENTS && !slot; k++) if (m.clients[k].fd < 0) slot = &m.clients[k];
    if (!slot) { close(fd); continue; }
    memset(slot, 0, sizeof *slot);
    slot->fd = fd;
  }
}

static int listen_control(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, "control.sock"); // relative: we chdir'd into the state dir (sun_path is 108 bytes)
  unlink("control.sock");
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (r < 0 || listen(fd, MAX_CLIENTS) < 0) { int e = errno; close(fd); errno = e; return -1; }
  return fd;
}

// ---------------------------------------------------------------------------------------------
// exit

static const char *signal_name(int sig) {
  static const char *names[] = { NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ",
    "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS" };
  return sig > 0 && sig < (int)(sizeof names / sizeof names[0]) ? names[sig] : NULL;
}

/** The oom_kill counter of the container's memory cgroup (v2 memory.events, v1 memory.oom_control). */
static long long oom_kills(void) {
  if (!m.cgroup_mem) return -1;
  static const char *files[] = { "memory.events", "memory.oom_control" };
  for (int f = 0; f < 2; f++) {
    char path[4096];
    size_t plen = strlen(m.cgroup_mem);
    if (plen + 32 > sizeof path) return -1;
    size_t at = cat(path, 0, m.cgroup_mem);
    at = cat(path, at, "/");
    cat(path, at, files[f]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    for (char *p = buf; (p = strstr(p, "oom_kill ")) != NULL; p++) {
      if (p != buf && p[-1] != '\n') continue;
      return strtoll(p + 9, NULL, 10);
    }
  }
  return -1;
}

static size_t exit_json(char *dst) {
  int code = 0, sig = 0;
  if (m.status.si_code == CLD_EXITED) code = m.status.si_status;
  else { sig = m.status.si_status; code = 128 + sig; }
  long long kills = oom_kills();
  // The OOM killer bumps the memcg's oom_kill counter after sending SIGKILL: the victim can be
  // dead and reaped a moment before the counter moves. Look again briefly for a SIGKILLed container.
  for (int k = 0; k < 10 && sig == SIGKILL && kills >= 0 && kills <= m.oom_base; k++) {
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    kills = oom_kills();
  }
  int oom = kills >= 0 && m.oom_base >= 0 && kills > m.oom_base;
  size_t at = cat(dst, 0, "{\"exitCode\":");
  at = cat_num(dst, at, code);
  at = cat(dst, at, ",\"signal\":");
  if (sig) {
    const char *name = signal_name(sig);
    at = cat(dst, at, "\"");
    if (name) at = cat(dst, at, name);
    else { at = cat(dst, at, "SIG"); at = cat_num(dst, at, sig); }
    at = cat(dst, at, "\"");
  } else {
    at = cat(dst, at, "null");
  }
  at = cat(dst, at, ",\"finishedAt\":\"");
  at = rfc3339nano(dst, at, now_ns());
  at = cat(dst, at, "\",\"oomKilled\":");
  at = cat(dst, at, oom ? "true" : "false");
  at = cat(dst, at, ",\"pid\":");
  at = cat_num(dst, at, m.pid);
  at = cat(dst, at, "}");
  return at;
}

static void write_exit_file(const char *json, size_t n) {
  int fd = open("exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { diag("write exit.json.tmp", errno); return; }
  write_all(fd, json, n);
  write_all(fd, "\n", 1);
  // No fsync: the rename is atomic, and after a host crash the container is gone whatever the
  // record says; the daemon waits on this file for every exit (fsync was ~2–10 ms of it).
  close(fd);
  if (rename("exit.json.tmp", "exit.json") < 0) diag("rename exit.json", errno);
}

// ---------------------------------------------------------------------------------------------

static void read_stream(struct stream *s) {
  ssize_t n;
  do n = read(s->fd, read_buf, sizeof read_buf); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) { // EOF; EIO on a pty master once every slave fd is closed
    log_flush(s);
    if (!(m.tty && s->fd == m.pty)) close(s->fd);
    s->fd = -1;
    return;
  }
  log_data(s, read_buf, (size_t)n);
  broadcast(s->frame, read_buf, (size_t)n);
}

static int parse_fd(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return (*s && !*end && v >= 0 && v < 65536) ? (int)v : -1;
}

int main(int argc, char **argv) {
  memset(&m, 0, sizeof m);
  m.pidfd = m.pty_sock = m.pty = m.stdin_fd = m.listen_fd = m.log_fd = -1;
  m.out[0] = (struct stream){ .fd = -1, .name = "stdout", .frame = F_STDOUT };
  m.out[1] = (struct stream){ .fd = -1, .name = "stderr", .frame = F_STDERR };
  m.log_max_size = 10LL * 1024 * 1024;
  m.log_max_files = 3;
  for (int k = 0; k < MAX_CLIENTS; k++) m.clients[k].fd = -1;
  int handed[MAX_HANDED], nhanded = 0;

  // Our own session and process group: signals aimed at the daemon's group (a terminal's ^C,
  // a service manager's SIGTERM to the group) never reach us; and no SIGPIPE from a gone client.
  setsid();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);

  for (int k = 1; k < argc; k++) {
    const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
    if (!strcmp(a, "--stdin-once")) { m.stdin_once = 1; continue; }
    if (!v) return 2;
    k++;
    if (!strcmp(a, "--dir")) m.dir = v;
    else if (!strcmp(a, "--pidfd")) m.pidfd = parse_fd(v);
    else if (!strcmp(a, "--stdout")) m.out[0].fd = parse_fd(v);
    else if (!strcmp(a, "--stderr")) m.out[1].fd = parse_fd(v);
    else if (!strcmp(a, "--stdin")) m.stdin_fd = parse_fd(v);
    else if (!strcmp(a, "--pty-socket")) m.pty_sock = parse_fd(v);
    else if (!strcmp(a, "--log")) m.log_path = v;
    else if (!strcmp(a, "--log-max-size")) m.log_max_size = strtoll(v, NULL, 10);
    else if (!strcmp(a, "--log-max-files")) m.log_max_files = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--cgroup-memory")) m.cgroup_mem = v;
    else if (!strcmp(a, "--hold-output")) m.hold_clients = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--client-fd")) {
      if (nhanded == MAX_HANDED || (handed[nhanded] = parse_fd(v)) < 0) return 2;
      nhanded++;
    }
    else if (!strcmp(a, "--console-size")) { // ROWS,COLS: applied once the pty master arrives
      char *end;
      m.pending_rows = (int)strtol(v, &end, 10);
      m.pending_cols = *end == ',' ? (int)strtol(end + 1, NULL, 10) : 0;
    }
    else return 2;
  }
  if (!m.dir || m.pidfd < 0 || chdir(m.dir) < 0) return 2;
  m.tty = m.pty_sock >= 0;
  if (m.log_max_files < 1) m.log_max_files = 1;
  if (m.hold_clients < 0) m.hold_clients = 0;
  m.hold_until = mono_ms() + HOLD_MS;

  // The container's pid, for the exit file and INFO (pidfd fdinfo "Pid:").
  {
    char path[64], buf[1024];
    size_t at = cat(path, 0, "/proc/self/fdinfo/");
    cat_num(path, at, m.pidfd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n > 0) {
      buf[n] = 0;
      char *p = strstr(buf, "\nPid:");
      if (p) m.pid = (pid_t)strtol(p + 5, NULL, 10);
    }
  }
  // Our fds are exactly the ones named on the command line plus 0-2 (/dev/null): the executor's
  // prologue closed everything else. Mark them CLOEXEC: nothing we hold may leak anywhere.
  for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  int mine[] = { m.pidfd, m.out[0].fd, m.out[1].fd, m.stdin_fd, m.pty_sock };
  for (unsigned k = 0; k < sizeof mine / sizeof mine[0]; k++)
    if (mine[k] >= 0) fcntl(mine[k], F_SETFD, FD_CLOEXEC);
  for (int s = 0; s < 2; s++)
    if (m.out[s].fd >= 0) fcntl(m.out[s].fd, F_SETFL, fcntl(m.out[s].fd, F_GETFL) | O_NONBLOCK);
  if (m.stdin_fd >= 0) fcntl(m.stdin_fd, F_SETFL, fcntl(m.stdin_fd, F_GETFL) | O_NONBLOCK);
  for (int k = 0; k < nhanded; k++) { // the first client slots; their HELLO is waiting to be read
    fcntl(handed[k], F_SETFD, FD_CLOEXEC);
    fcntl(handed[k], F_SETFL, fcntl(handed[k], F_GETFL) | O_NONBLOCK);
    m.clients[k].fd = handed[k];
  }

  if (m.log_path) log_open(0);
  m.oom_base = oom_kills();
  m.listen_fd = listen_control();
  if (m.listen_fd < 0) diag("listen on control.sock", errno);

  long long exited_at = 0, last_data = 0;
  struct pollfd pfd[6 + MAX_CLIENTS];
  struct client *pclient[6 + MAX_CLIENTS];
  for (;;) {
    int n = 0;
    int i_pidfd = -1, i_listen = -1, i_ptysock = -1, i_stdin = -1, i_out[2] = { -1, -1 };
    if (!m.exited) { i_pidfd = n; pfd[n++] = (struct pollfd){ m.pidfd, POLLIN, 0 }; }
    if (m.listen_fd >= 0) { i_listen = n; pfd[n++] = (struct pollfd){ m.listen_fd, POLLIN, 0 }; }
    if (m.pty_sock >= 0) { i_ptysock = n; pfd[n++] = (struct pollfd){ m.pty_sock, POLLIN, 0 }; }
    int sfd = stdin_target();
    if (m.stdin_len > 0 && sfd >= 0 && !(m.tty && sfd == m.out[0].fd)) { i_stdin = n; pfd[n++] = (struct pollfd){ sfd, POLLOUT, 0 }; }
    // Backpressure: a client over the soft cap pauses output reading until it took some.
    long long tnow = mono_ms();
    int backlogged = 0, timeout = -1;
    for (int k = 0; k < MAX_CLIENTS; k++) {
      struct client *c = &m.clients[k];
      if (c->fd >= 0 && c->outlen - c->outoff > CLIENT_OUT_SOFT) backlogged = 1;
    }
    // --hold-output: nothing is read until the awaited clients said HELLO (or HOLD_MS passed).
    if (m.hold_clients > 0 && tnow >= m.hold_until) m.hold_clients = 0;
    if (m.hold_clients > 0) {
      backlogged = 1;
      int left = (int)(m.hold_until - tnow);
      if (timeout < 0 || left < timeout) timeout = left;
    }
    // The drain's deadlines do not run while the output is held back: a client that stopped reading
    // holds the exit for as long as it stays connected, as with dockerd (its exit handler blocks
    // on that client's full attach pipe: `wait`, `kill` and `--rm` wait, ps shows the container
    // Up, until the client reads or goes away).
    if (backlogged) {
      last_data = tnow;
      if (m.exited) exited_at = tnow;
    }
    // Held back: the outputs are not polled at all (poll reports POLLHUP whatever the events, and
    // reading then would hand the output to nobody).
    for (int s = 0; s < 2 && !backlogged; s++) {
      if (m.out[s].fd < 0) continue;
      short ev = POLLIN;
      if (m.tty && m.stdin_len > 0) ev |= POLLOUT; // the pty master is both
      i_out[s] = n;
      pfd[n++] = (struct pollfd){ m.out[s].fd, ev, 0 };
    }
    int first_client = n;
    int stdin_full = STDIN_MAX - m.stdin_len < MAX_FRAME;
    for (int k = 0; k < MAX_CLIENTS; k++) {
      struct client *c = &m.clients[k];
      if (c->fd < 0) continue;
      int readable = !(stdin_full && (c->want & WANT_STDIN)) && c->inlen < CLIENT_IN_MAX;
      // An ended client waits only for stdin room (the held-back frames below); a gone one is not
      // polled while it cannot be read (poll reports POLLHUP whatever the events: a busy loop).
      if (c->in_eof || (c->hup && !readable)) continue;
      short ev = 0;
      if (readable) ev |= POLLIN;
      if (c->outlen > c->outoff) ev |= POLLOUT;
      pclient[n] = c;
      pfd[n++] = (struct pollfd){ c->fd, ev, 0 };
    }
    int outputs_open = m.out[0].fd >= 0 || m.out[1].fd >= 0 || m.pty_sock >= 0;
    if (m.exited) {
      // Drain: until every output hit EOF, or 1 s without output (a background process
      // outside a pid ns may hold the pipes forever), at most 10 s after the exit (or after the
      // last time a client held the output).
      long long t = mono_ms();
      if (!outputs_open || t - last_data > 1000 || t - exited_at > 10000) break;
    }
    if (m.exited && (timeout < 0 || timeout > 100)) timeout = 100;
    int r = poll(pfd, (nfds_t)n, timeout);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { diag("poll", errno); break; }
    if (i_pidfd >= 0 && pfd[i_pidfd].revents) {
      memset(&m.status, 0, sizeof m.status);
      int wr = waitid((idtype_t)P_PIDFD, (id_t)m.pidfd, &m.status, WEXITED | WNOHANG);
      if (wr == 0 && m.status.si_pid != 0) {
        m.exited = 1;
        exited_at = last_data = mono_ms();
        close_stdin();
        if (m.stdin_fd >= 0) { close(m.stdin_fd); m.stdin_fd = -1; }
      } else if (wr < 0 && errno == ECHILD) {
        diag("waitid on the container pidfd", errno);
        m.status.si_code = CLD_KILLED;
        m.status.si_status = SIGKILL;
        m.exited = 1;
        exited_at = last_data = mono_ms();
      }
    }
    if (i_ptysock >= 0 && pfd[i_ptysock].revents) receive_pty();
    for (int s = 0; s < 2; s++) {
      if (i_out[s] < 0 || !pfd[i_out[s]].revents) continue;
      if (pfd[i_out[s]].revents & POLLOUT) stdin_flush();
      if (pfd[i_out[s]].revents & (POLLIN | POLLHUP | POLLERR)) {
        read_stream(&m.out[s]);
        last_data = mono_ms();
      }
    }
    if (i_stdin >= 0 && pfd[i_stdin].revents) {
      if (pfd[i_stdin].revents & (POLLERR | POLLHUP)) close_stdin();
      else stdin_flush();
    }
    for (int k = first_client; k < n; k++) {
      struct client *c = pclient[k];
      if (c->fd < 0 || c->fd != pfd[k].fd || !pfd[k].revents) continue;
      if (pfd[k].revents & (POLLHUP | POLLERR)) {
        c->hup = 1;
        stop_output(c);
      } else if (pfd[k].revents & POLLOUT) client_flush(c);
      if (c->fd >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) client_read(c);
    }
    // frames held back by a full stdin buffer
    if (m.stdin_len < STDIN_MAX)
      for (int k = 0; k < MAX_CLIENTS; k++)
        if (m.clients[k].fd >= 0 && m.clients[k].inlen >= 8) client_input(&m.clients[k]);
    if (i_listen >= 0 && pfd[i_listen].revents) accept_clients();
  }

  // The end: no new clients, the exit file (logs are complete once it exists), an EXIT frame to
  // every client; then each client's queue is flushed, its socket shut down for writing (EOF after
  // the EXIT frame), and we wait for the client to close its end, reading and dropping what it
  // still sends, LINGER_MS at most after its shutdown. Closing at once would fail a client's late
  // write (stdin, its stdin's end, a resize) with EPIPE while our last frames still sit unread in
  // its receive buffer: a Node socket destroys itself on that error, and the output is lost with it.
  // A client that is slow to take its queue keeps it for as long as it stays connected, as dockerd
  // keeps a stalled attach client's buffered output for it (`docker run … | (sleep 5; wc -l)` gets
  // every line); the exit is known meanwhile (exit.json; the engine's watcher client gets its EXIT
  // frame at once). Until session 15 the whole phase had LINGER_MS: such a client lost the rest.
  for (int s = 0; s < 2; s++) {
    log_flush(&m.out[s]);
    if (m.out[s].fd >= 0 && m.out[s].fd != m.pty) close(m.out[s].fd);
  }
  if (m.listen_fd >= 0) { close(m.listen_fd); unlink("control.sock"); }
  if (m.log_fd >= 0) close(m.log_fd);
  char json[512];
  size_t jn = exit_json(json);
  write_exit_file(json, jn);
  for (int k = 0; k < MAX_CLIENTS; k++) if (m.clients[k].fd >= 0 && m.clients[k].hello) client_send(&m.clients[k], F_EXIT, json, jn);
  for (;;) {
    struct pollfd cp[MAX_CLIENTS];
    struct client *cc[MAX_CLIENTS];
    int n = 0, timeout = -1;
    long long t = mono_ms();
    for (int k = 0; k < MAX_CLIENTS; k++) {
      struct client *c = &m.clients[k];
      if (c->fd < 0) continue;
      if (!c->shut && c->outlen <= c->outoff) {
        if (shutdown(c->fd, SHUT_WR) < 0) { drop_client(c); continue; }
        c->shut = 1;
        c->shut_at = t;
      }
      if (c->shut) {
        long long left = c->shut_at + LINGER_MS - t;
        if (left <= 0) { drop_client(c); continue; }
        if (timeout < 0 || left < timeout) timeout = (int)left;
      }
      cc[n] = c;
      cp[n++] = (struct pollfd){ c->fd, c->shut ? POLLIN : POLLOUT, 0 };
    }
    if (n == 0) break;
    if (poll(cp, (nfds_t)n, timeout) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; k++) {
      struct client *c = cc[k];
      if (!cp[k].revents) continue;
      if (!c->shut) {
        if (cp[k].revents & POLLOUT) client_flush(c);
        if (c->fd >= 0 && (cp[k].revents & (POLLHUP | POLLERR))) drop_client(c);
        continue;
      }
      ssize_t r;
      do r = recv(c->fd, read_buf, sizeof read_buf, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) drop_client(c); // closed (or gone)
    }
  }
  return 0;
}
