// Network helpers for src/network: sockets created inside another network namespace, and the raw
// send/recv calls Node has no API for (netlink, UDP on an adopted fd).
//
// A socket belongs to the netns of the thread that created it, forever. Node's threads must not
// setns (the libuv pool would be split between namespaces), so netSocket() creates the socket on a
// short-lived pthread that joins the target netns first: setns(CLONE_NEWNET) on one thread of a
// multi-threaded process is allowed (unlike mnt/user, which give EINVAL).
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static int net_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a Buffer");
    return -1;
  }
  return 0;
}

static int net_ipv4(napi_env env, napi_value v, struct in_addr *out) {
  char text[64];
  size_t n;
  if (napi_get_value_string_utf8(env, v, text, sizeof text, &n) != napi_ok || inet_pton(AF_INET, text, out) != 1) {
    napi_throw_type_error(env, NULL, "hako_native: expected an IPv4 address string");
    return -1;
  }
  return 0;
}

struct sock_job {
  int ns_fd, domain, type, protocol;
  int fd, err;
  const char *failed;
};

static void *sock_thread(void *arg) {
  struct sock_job *j = arg;
  if (setns(j->ns_fd, CLONE_NEWNET) != 0) {
    j->err = errno;
    j->failed = "setns(CLONE_NEWNET)";
    return NULL;
  }
  j->fd = socket(j->domain, j->type | SOCK_CLOEXEC, j->protocol);
  if (j->fd < 0) {
    j->err = errno;
    j->failed = "socket";
  }
  return NULL;
}

// netSocket(nsFd, domain, type, protocol) → fd (CLOEXEC); nsFd -1 = the caller's netns.
static napi_value js_net_socket(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t ns_fd, domain, type, protocol;
  if (hk_args(env, info, 4, 4, argv, NULL) || hk_int32(env, argv[0], &ns_fd) || hk_int32(env, argv[1], &domain) ||
      hk_int32(env, argv[2], &type) || hk_int32(env, argv[3], &protocol))
    return NULL;
  struct sock_job j = {ns_fd, domain, type, protocol, -1, 0, NULL};
  if (ns_fd < 0) {
    j.fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (j.fd < 0) return hk_throw_errno(env, "socket", errno);
  } else {
    pthread_t t;
    int rc = pthread_create(&t, NULL, sock_thread, &j);
    if (rc != 0) return hk_throw_errno(env, "pthread_create", rc);
    pthread_join(t, NULL);
    if (j.err) return hk_throw_errno(env, j.failed, j.err);
  }
  napi_value r;
  napi_create_int32(env, j.fd, &r);
  return r;
}

// bindInet(fd, ip, port, reuseAddr) → the bound port (useful with port 0).
static napi_value js_bind_inet(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, port;
  struct in_addr ip;
  bool reuse = false;
  if (hk_args(env, info, 4, 3, argv, NULL) || hk_int32(env, argv[0], &fd) || net_ipv4(env, argv[1], &ip) || hk_int32(env, argv[2], &port))
    return NULL;
  napi_get_value_bool(env, argv[3], &reuse);
  if (reuse) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return hk_throw_errno(env, "setsockopt(SO_REUSEADDR)", errno);
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = ip};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return hk_throw_errno(env, "bind", errno);
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return hk_throw_errno(env, "getsockname", errno);
  napi_value r;
  napi_create_int32(env, ntohs(sa.sin_port), &r);
  return r;
}

// sockSend(fd, buffer) → bytes sent (send(2), MSG_NOSIGNAL).
static napi_value js_sock_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *data;
  size_t len;
  if (hk_args(env, info, 2, 2, argv, NULL) || hk_int32(env, argv[0], &fd) || net_buffer(env, argv[1], &data, &len)) return NULL;
  ssize_t n;
  do n = send(fd, data, len, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) return hk_throw_errno(env, "send", errno);
  napi_value r;
  napi_create_double(env, (double)n, &r);
  return r;
}

// sockRecv(fd, buffer, dontWait) → bytes received into buffer, or -1 when dontWait and nothing is
// queued (EAGAIN). A datagram larger than the buffer throws EMSGSIZE rather than being truncated.
static napi_value js_sock_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  void *data;
  size_t len;
  bool dontwait = false;
  if (hk_args(env, info, 3, 2, argv, NULL) || hk_int32(env, argv[0], &fd) || net_buffer(env, argv[1], &data, &len)) return NULL;
  napi_get_value_bool(env, argv[2], &dontwait);
  ssize_t n;
  do n = recv(fd, data, len, MSG_TRUNC | (dontwait ? MSG_DONTWAIT : 0)); while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) n = -1;
  else if (n < 0) return hk_throw_errno(env, "recv", errno);
  else if ((size_t)n > len) return hk_throw_errno(env, "recv (message larger than the buffer)", EMSGSIZE);
  napi_value r;
  napi_create_double(env, (double)n, &r);
  return r;
}

// udpRecvFrom(fd, buffer) → {length, address, port} or null when nothing is queued (non-blocking).
static napi_value js_udp_recv_from(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *data;
  size_t len;
  if (hk_args(env, info, 2, 2, argv, NULL) || hk_int32(env, argv[0], &fd) || net_buffer(env, argv[1], &data, &len)) return NULL;
  struct sockaddr_in sa;
  socklen_t slen = sizeof sa;
  ssize_t n;
  do n = recvfrom(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&sa, &slen); while (n < 0 && errno == EINTR);
  napi_value r, v;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &r);
      return r;
    }
    return hk_throw_errno(env, "recvfrom", errno);
  }
  char text[INET_ADDRSTRLEN] = "";
  if (sa.sin_family == AF_INET) inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
  napi_create_object(env, &r);
  napi_create_double(env, (double)n, &v);
  napi_set_named_property(env, r, "length", v);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, r, "address", v);
  napi_create_int32(env, ntohs(sa.sin_port), &v);
  napi_set_named_property(env, r, "port", v);
  return r;
}

// udpSendTo(fd, buffer, ip, port) → bytes sent.
static napi_value js_udp_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, port;
  void *data;
  size_t len;
  struct in_addr ip;
  if (hk_args(env, info, 4, 4, argv, NULL) || hk_int32(env, argv[0], &fd) || net_buffer(env, argv[1], &data, &len) ||
      net_ipv4(env, argv[2], &ip) || hk_int32(env, argv[3], &port))
    return NULL;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = ip};
  ssize_t n;
  do n = sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof sa); while (n < 0 && errno == EINTR);
  if (n < 0) return hk_throw_errno(env, "sendto", errno);
  napi_value r;
  napi_create_double(env, (double)n, &r);
  return r;
}

// sockListen(fd, backlog)
static napi_value js_sock_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, backlog;
  if (hk_args(env, info, 2, 2, argv, NULL) || hk_int32(env, argv[0], &fd) || hk_int32(env, argv[1], &backlog)) return NULL;
  if (listen(fd, backlog) != 0) return hk_throw_errno(env, "listen", errno);
  return NULL;
}

// sockSetInt(fd, level, name, value): setsockopt with an int value (e.g. SO_SNDBUFFORCE, NETLINK_EXT_ACK).
static napi_value js_sock_set_int(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name, value;
  if (hk_args(env, info, 4, 4, argv, NULL) || hk_int32(env, argv[0], &fd) || hk_int32(env, argv[1], &level) || hk_int32(env, argv[2], &name) ||
      hk_int32(env, argv[3], &value))
    return NULL;
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) return hk_throw_errno(env, "setsockopt", errno);
  return NULL;
}

HK_EXPORT("netSocket", js_net_socket);
HK_EXPORT("sockSetInt", js_sock_set_int);
HK_EXPORT("bindInet", js_bind_inet);
HK_EXPORT("sockSend", js_sock_send);
HK_EXPORT("sockRecv", js_sock_recv);
HK_EXPORT("udpRecvFrom", js_udp_recv_from);
HK_EXPORT("udpSendTo", js_udp_send_to);
HK_EXPORT("sockListen", js_sock_listen);
