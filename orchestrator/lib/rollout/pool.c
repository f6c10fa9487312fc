#include "rollout/pool.h"

#include <stdbool.h>

#include "util/error.h"

size_t pool_start(pool *p, size_t max, void *(*fn)(void *), void *arg)
{
	p->n = 0;
	if (max > POOL_MAX_WORKERS)
		max = POOL_MAX_WORKERS;
	while (p->n < max && pthread_create(&p->threads[p->n], NULL, fn, arg) == 0)
		p->n++;
	return p->n;
}

void pool_join(pool *p)
{
	for (size_t k = 0; k < p->n; k++)
		pthread_join(p->threads[k], NULL);
	p->n = 0;
}

struct each {
	void (*job)(void *arg, size_t k);
	void *arg;
	size_t k;
};

static void *run_each(void *arg)
{
	struct each *e = arg;
	e->job(e->arg, e->k);
	return NULL;
}

void pool_each(size_t n, void (*job)(void *arg, size_t k), void *arg)
{
	struct each *jobs = xcalloc(n ? n : 1, sizeof *jobs);
	pthread_t *threads = xcalloc(n ? n : 1, sizeof *threads);
	bool *threaded = xcalloc(n ? n : 1, sizeof *threaded);
	for (size_t k = 0; k < n; k++) {
		jobs[k] = (struct each){.job = job, .arg = arg, .k = k};
		if (k > 0)
			threaded[k] = pthread_create(&threads[k], NULL, run_each, &jobs[k]) == 0;
	}
	for (size_t k = 0; k < n; k++)
		if (!threaded[k])
			job(arg, k);
	for (size_t k = 0; k < n; k++)
		if (threaded[k])
			pthread_join(threads[k], NULL);
	free(threaded);
	free(threads);
	free(jobs);
}
