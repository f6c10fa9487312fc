/* The clock operations of the project: timing (rollout, probes, checks,
 * reports), polling loops (HTTP retries, waiting for a service to answer,
 * token lifetimes) and wall-clock timestamps. */
#ifndef AEGIS_CLOCK_H
#define AEGIS_CLOCK_H

#include <errno.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double clock_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds since the epoch (for reports that other tools compare). */
static inline double clock_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep MS milliseconds, signals notwithstanding. */
static inline void clock_sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#endif
