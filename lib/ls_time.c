#include "ls_time.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the rig's clock minus CLOCK_REALTIME (ls_time_set_offset), and whether
 * it is synchronised (ls_time_set_synced) */
static _Atomic int64_t clock_offset_ns;
static atomic_bool clock_synced = true;

int64_t ls_realtime_raw_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * LS_NS_PER_SEC + ts.tv_nsec;
}

int64_t ls_realtime_ns(void)
{
	return ls_realtime_raw_ns() + atomic_load_explicit(&clock_offset_ns, memory_order_relaxed);
}

void ls_time_set_offset(int64_t ns) { atomic_store(&clock_offset_ns, ns); }

int64_t ls_time_offset(void) { return atomic_load_explicit(&clock_offset_ns, memory_order_relaxed); }

void ls_time_set_synced(bool synced) { atomic_store(&clock_synced, synced); }

bool ls_time_synced(void) { return atomic_load_explicit(&clock_synced, memory_order_relaxed); }

int64_t ls_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * LS_NS_PER_SEC + ts.tv_nsec;
}

static int64_t realtime_now(void *ctx)
{
	(void)ctx;
	return ls_realtime_ns();
}

const struct ls_clock ls_clock_realtime = { realtime_now, NULL };

/* Stores num/den in lowest terms. */
static void set_reduced(struct ls_rate *out, long num, long den)
{
	long a = num, b = den;
	while (b) {
		long t = a % b;
		a = b;
		b = t;
	}
	out->num = (int32_t)(num / a);
	out->den = (int32_t)(den / a);
}

int ls_rate_parse(const char *s, struct ls_rate *out)
{
	char *end;
	if (!s || !*s || *s == ' ' || *s == '\t' || *s == '-' || *s == '+')
		return -EINVAL;
	const char *slash = strchr(s, '/');
	if (slash) {
		errno = 0;
		long num = strtol(s, &end, 10);
		if (errno || end != slash)
			return -EINVAL;
		long den = strtol(slash + 1, &end, 10);
		if (errno || *end || num <= 0 || den <= 0 || num > INT32_MAX || den > INT32_MAX || slash[1] == '-' ||
		    slash[1] == '+' || slash[1] == ' ')
			return -EINVAL;
		set_reduced(out, num, den);
		return 0;
	}
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v > 0.0) || v > 100000.0)
		return -EINVAL;
	/* NTSC rates are written 23.976, 29.97, 59.94: map them to n*1000/1001. */
	static const int ntsc[] = { 24, 30, 48, 60, 120 };
	for (size_t i = 0; i < sizeof ntsc / sizeof ntsc[0]; i++) {
		double exact = ntsc[i] * 1000.0 / 1001.0;
		if (v != (double)ntsc[i] && v > exact - 0.006 && v < exact + 0.006) {
			out->num = ntsc[i] * 1000;
			out->den = 1001;
			return 0;
		}
	}
	/* Otherwise keep up to three decimals exactly. */
	long milli = (long)(v * 1000.0 + 0.5);
	if (milli <= 0)
		return -EINVAL; /* below 0.001 fps */
	set_reduced(out, milli, 1000);
	return 0;
}

int64_t ls_rate_period_ns(struct ls_rate r)
{
	__int128 p = (__int128)r.den * LS_NS_PER_SEC;
	return (int64_t)((p + r.num / 2) / r.num);
}

/* floor division for a possibly negative numerator, positive divisor */
static __int128 floor_div(__int128 a, __int128 b)
{
	__int128 q = a / b;
	if ((a % b) != 0 && a < 0)
		q--;
	return q;
}

int64_t ls_slot_index(int64_t t_ns, int64_t epoch_ns, int64_t offset_ns, struct ls_rate r)
{
	/* n = round(d * num / (den * 1e9)) = floor((2*d*num + den*1e9) / (2*den*1e9)) */
	__int128 d = (__int128)t_ns - epoch_ns - offset_ns;
	__int128 q = (__int128)r.den * LS_NS_PER_SEC;
	return (int64_t)floor_div(2 * d * r.num + q, 2 * q);
}

int64_t ls_slot_time(int64_t n, int64_t epoch_ns, struct ls_rate r)
{
	__int128 x = (__int128)n * r.den * LS_NS_PER_SEC;
	return epoch_ns + (int64_t)floor_div(x, r.num);
}

int ls_sleep_until(int64_t abs_ns)
{
	abs_ns -= ls_time_offset(); /* on CLOCK_REALTIME */
	struct timespec ts = { .tv_sec = abs_ns / LS_NS_PER_SEC, .tv_nsec = abs_ns % LS_NS_PER_SEC };
	int rc;
	while ((rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	return -rc;
}
