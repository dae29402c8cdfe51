#include "ls_canary.h"

#include <stddef.h>

void ls_canary_init(struct ls_canary *c, int64_t period_ns, int64_t timeout_ns)
{
	*c = (struct ls_canary){ .period_ns = period_ns > 0 ? period_ns : 0, .timeout_ns = timeout_ns };
}

bool ls_canary_show(struct ls_canary *c, int64_t now)
{
	if (!c->period_ns)
		return false;
	if (!c->next_ns)
		c->next_ns = now + c->period_ns;
	if (!c->since_ns && now >= c->next_ns)
		c->since_ns = now;
	return c->since_ns != 0;
}

bool ls_canary_due(const struct ls_canary *c, int64_t now, bool caught)
{
	return c->since_ns && (caught || now - c->since_ns > c->timeout_ns);
}

enum ls_canary_verdict ls_canary_judge(struct ls_canary *c, int64_t now, bool caught, bool covered, int64_t *age_ns)
{
	if (!c->since_ns)
		return LS_CANARY_WAITING;
	int64_t age = now - c->since_ns;
	if (age_ns)
		*age_ns = age;
	if (!caught && age <= c->timeout_ns)
		return LS_CANARY_WAITING;
	enum ls_canary_verdict v = caught ? LS_CANARY_PASS : covered ? LS_CANARY_UNVERIFIED : LS_CANARY_FAIL;
	c->failed = v == LS_CANARY_FAIL;
	c->since_ns = 0;
	c->next_ns = now + c->period_ns;
	return v;
}

bool ls_canary_failed(const struct ls_canary *c) { return c->failed; }

const char *ls_canary_verdict_name(enum ls_canary_verdict v)
{
	static const char *const names[] = { "waiting", "pass", "unverified", "fail" };
	return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}
