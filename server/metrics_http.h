/*
 * metrics_http: the replica's /metrics endpoint, served by libmicrohttpd
 * on its own port (METRICS_PORT) and its own thread.
 */
#ifndef METRICS_HTTP_H
#define METRICS_HTTP_H

#include <stddef.h>

/*
 * Listen on ip:port and serve GET /metrics until metrics_http_stop.
 * 0, or -1 with a reason in err.
 */
int	 metrics_http_start(const char *ip, int port, char *err, size_t errlen);
void	 metrics_http_stop(void);

#endif
