/*
 * What the benchmarks' C clients share (first-response-latency.c, tls-first-response.c): the clock, a
 * loopback TCP socket with timeouts and TCP_NODELAY, where an HTTP/1.1 response ends, and percentiles of the
 * samples. Header-only: ./c-probe.js compiles each client as one file.
 */
#pragma once

/* memmem. Each client includes this header before any other, so that this comes first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * A TCP socket for 127.0.0.1:port, not yet connected (the caller starts its clock, then connects to *addr):
 * every call on it times out after timeout_seconds, and TCP_NODELAY is on, so that a request is not held back
 * by Nagle. -1 if no socket could be made.
 */
static int loopback_socket(int port, int timeout_seconds, struct sockaddr_in *addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_port = htons((unsigned short)port);
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval timeout = {timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  return fd;
}

/*
 * The length of the HTTP/1.1 response at the start of buf (header block plus Content-Length body, the header
 * alone without one) once its header block is in; 0 until then.
 */
static size_t response_length(const char *buf, size_t len) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  size_t header_len = (size_t)(end - buf) + 4;
  for (const char *p = buf; p + 15 <= buf + header_len; p++)
    if (strncasecmp(p, "content-length:", 15) == 0) return header_len + strtoull(p + 15, NULL, 10);
  return header_len;
}

static int compare_samples(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts the n samples in place and returns their mean. */
static double sort_samples(double *samples, int n) {
  qsort(samples, (size_t)n, sizeof(double), compare_samples);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += samples[i];
  return sum / n;
}

/* The q-quantile of n sorted samples, by nearest rank: the sample at round(q * (n - 1)). */
static double percentile(const double *sorted, int n, double q) {
  return sorted[(int)(q * (n - 1) + 0.5)];
}
