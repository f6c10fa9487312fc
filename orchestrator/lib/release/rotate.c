#include "release/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/secretgen.h"
#include "release/history.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/text.h"
#include "util/wipe.h"

/* Random bytes of a generated value (43 characters), as `init` makes them
 * (secretgen.c). */
#define ROTATE_SECRET_BYTES 32
/* A pending file is small: two values and a name. */
#define PENDING_MAX (64 * 1024)

static const rotate_method methods[] = {
    {"postgres-role", credential_postgres, NULL, NULL},
    {"keycloak-admin", credential_keycloak_admin, NULL, NULL},
    {"grafana-admin", credential_grafana_admin, NULL, NULL},
    {"approle-secret-id", NULL, credential_approle_issue, credential_approle_retire},
};

const rotate_method *rotate_method_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

char *rotate_pending_path(const char *state_dir, const char *variable)
{
	return xasprintf("%s/%s/%s.pending", state_dir, ROTATE_DIR, variable);
}

int rotate_pending_save(const char *state_dir, const rotate_pending *p, aerr_t *err)
{
	cleanup_free char *dir = xasprintf("%s/%s", state_dir, ROTATE_DIR);
	if (fs_mkdir_private(dir, 0700, err) < 0)
		return -1;
	json_t *js = json_pack("{s:s, s:s}", "variable", p->variable, "old", p->old_value);
	if (p->new_value)
		json_object_set_new(js, "new", json_string(p->new_value));
	char *text = json_dumps(js, JSON_COMPACT);
	wipe_json_decref(js);
	if (!text)
		return aerr_set(err, AEGIS_EFAIL, "%s: a value is not valid UTF-8", p->variable);
	cleanup_free char *path = rotate_pending_path(state_dir, p->variable);
	int rc = fs_write_atomic(path, text, strlen(text), 0600, err);
	wipe_free(text);
	return rc;
}

/* Read PATH (0600, a regular file, not a symlink) into *TEXT. */
static int read_private(const char *path, char **text, aerr_t *err)
{
	*text = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return aerr_set(err, AEGIS_EFAIL, "%s: %s%s", path, strerror(errno),
				errno == ELOOP ? " (a symlink: refused)" : "");
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    st.st_size > PENDING_MAX) {
		close(fd);
		return aerr_set(err, AEGIS_EFAIL,
				"%s: not a regular file of mode 0600 (at most %d bytes); "
				"refused",
				path, PENDING_MAX);
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		wipe_free_len(buf, (size_t)st.st_size + 1);
		return aerr_set(err, AEGIS_EFAIL, "%s: short read", path);
	}
	buf[n] = '\0';
	*text = buf;
	return 1;
}

int rotate_pending_load(const char *state_dir, const char *variable, rotate_pending *p, aerr_t *err)
{
	*p = (rotate_pending){0};
	cleanup_free char *path = rotate_pending_path(state_dir, variable);
	char *text = NULL;
	int rc = read_private(path, &text, err);
	if (rc <= 0)
		return rc;
	json_error_t jerr;
	json_t *js = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	wipe_free(text);
	const char *var = json_string_value(json_object_get(js, "variable"));
	const char *old = json_string_value(json_object_get(js, "old"));
	json_t *nv = json_object_get(js, "new");
	if (!js || !var || !old || (nv && !json_is_string(nv)) || strcmp(var, variable) != 0) {
		wipe_json_decref(js);
		/* never the parser's message: it may quote the text */
		return aerr_set(err, AEGIS_EFAIL,
				"%s: not a pending rotation of %s (remove it if no rotation "
				"of %s is under way)",
				path, variable, variable);
	}
	p->variable = xstrdup(var);
	p->old_value = xstrdup(old);
	p->new_value = nv ? xstrdup(json_string_value(nv)) : NULL;
	wipe_json_decref(js);
	return 1;
}

int rotate_pending_remove(const char *state_dir, const char *variable, aerr_t *err)
{
	cleanup_free char *path = rotate_pending_path(state_dir, variable);
	if (unlink(path) < 0 && errno != ENOENT)
		return aerr_set(err, AEGIS_EFAIL, "%s: %s", path, strerror(errno));
	cleanup_free char *dir = fs_dirname(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void rotate_pending_free(rotate_pending *p)
{
	free(p->variable);
	wipe_free(p->old_value);
	wipe_free(p->new_value);
	*p = (rotate_pending){0};
}

int rotate_check(const config *cfg, const char *variable, const schema_var **var,
		 const rotate_method **method, aerr_t *err)
{
	*var = schema_find(&cfg->schema, variable);
	*method = *var ? rotate_method_find((*var)->rotate) : NULL;
	if (!*method) {
		strbuf list = STRBUF_INIT;
		for (size_t i = 0; i < cfg->schema.n; i++)
			if (cfg->schema.vars[i].rotate)
				sb_addf(&list, "%s%s", list.len ? ", " : "",
					cfg->schema.vars[i].name);
		int rc = aerr_set(err, AEGIS_ECONFIG,
				  "%s is not a variable that can be rotated (%s: those with a "
				  "'rotate:' field in %s: %s)",
				  variable, *var ? "it has no 'rotate:' field" : "unknown",
				  cfg->schema.path, list.s ? list.s : "none");
		sb_release(&list);
		return rc;
	}
	const config_value *cv = config_find(cfg, variable);
	if (cv && cv->source == SRC_ENVIRONMENT)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s is set in the process environment, which overrides %s: "
				"unset it, so that the rotated value in %s is the one used",
				variable, cfg->env_path, cfg->env_path);
	if (!cv || cv->source != SRC_FILE || !cv->value || !*cv->value)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s has no value in %s: there is nothing to rotate yet (deploy "
				"first; `init` or the bootstrap sets it)",
				variable, cfg->env_path);
	return 0;
}

static void add_step(const rotate_ctx *c, json_t *steps, const char *name, const char *done,
		     double t0)
{
	double s = clock_mono_s() - t0;
	json_array_append_new(
	    steps, json_pack("{s:s, s:s, s:f}", "step", name, "result", done, "seconds", s));
	if (c->step)
		c->step(c->step_ctx, name, done, s);
}

/* The pending rotation: resumed, or begun with a new value. */
static int begin(const rotate_ctx *c, const schema_var *var, const rotate_method *m,
		 rotate_pending *p, json_t *steps, aerr_t *err)
{
	double t0 = clock_mono_s();
	cleanup_free char *path = rotate_pending_path(c->state_dir, c->variable);
	int rc = rotate_pending_load(c->state_dir, c->variable, p, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (c->value && (!p->new_value || strcmp(c->value, p->new_value) != 0))
			return aerr_set(err, AEGIS_ECONFIG,
					"a rotation of %s is under way (%s) with another value: "
					"finish it first with `aegis-deploy rotate %s`, then "
					"rotate again",
					c->variable, path, c->variable);
		cleanup_free char *msg = xasprintf("resumed the rotation pending in %s", path);
		add_step(c, steps, "pending", msg, t0);
		return 0;
	}
	const char *old = config_get(c->cfg, c->variable);
	p->variable = xstrdup(c->variable);
	p->old_value = xstrdup(old ? old : "");
	if (c->value) {
		if (m->issue)
			return aerr_set(err, AEGIS_ECONFIG,
					"%s is issued by its service (%s): --value-from-stdin "
					"cannot choose it",
					c->variable, m->name);
		p->new_value = xstrdup(c->value);
	} else if (!m->issue && secret_generate(ROTATE_SECRET_BYTES, &p->new_value, err) < 0) {
		return -1;
	}
	if (p->new_value && schema_check(var, p->new_value, err) < 0)
		return aerr_wrap(err, "%s: the new value is refused", c->variable);
	if (p->new_value && strcmp(p->new_value, p->old_value) == 0)
		return aerr_set(err, AEGIS_ECONFIG, "%s: the new value is the current one",
				c->variable);
	if (rotate_pending_save(c->state_dir, p, err) < 0)
		return -1;
	cleanup_free char *msg =
	    xasprintf("%s saved to %s", p->new_value ? "new value" : "current value", path);
	add_step(c, steps, "pending", msg, t0);
	return 0;
}

/* The service accepts the new value (issued first when the service makes it). */
static int change_service(const rotate_ctx *c, const rotate_method *m, rotate_pending *p,
			  json_t *steps, aerr_t *err)
{
	double t0 = clock_mono_s();
	/* .env is written only once the service took the value: a run killed
	 * after that finds the service done (and perhaps its pod not running) */
	const char *now = config_get(c->cfg, c->variable);
	if (p->new_value && now && strcmp(now, p->new_value) == 0) {
		add_step(c, steps, "service", "already changed (.env holds the new value)", t0);
		return 0;
	}
	if (m->issue) {
		if (p->new_value) {
			add_step(c, steps, "service", "the new value was already issued", t0);
			return 0;
		}
		if (m->issue(&c->target, p->old_value, &p->new_value, err) < 0 ||
		    rotate_pending_save(c->state_dir, p, err) < 0)
			return -1;
		add_step(c, steps, "service", "issued a new value", t0);
		return 0;
	}
	bool already = false;
	if (m->change(&c->target, p->old_value, p->new_value, &already, err) < 0)
		return -1;
	add_step(c, steps, "service",
		 already ? "already accepts the new value"
			 : "changed: accepts the new value, "
			   "refuses the old",
		 t0);
	return 0;
}

int rotate_run(const rotate_ctx *c, json_t **steps_out, aerr_t *err)
{
	if (steps_out)
		*steps_out = NULL;
	const schema_var *var;
	const rotate_method *m;
	if (rotate_check(c->cfg, c->variable, &var, &m, err) < 0)
		return -1;
	json_t *steps = json_array();
	rotate_pending p = {0};
	int rc = begin(c, var, m, &p, steps, err);
	if (rc == 0)
		rc = change_service(c, m, &p, steps, err);
	if (rc == 0) {
		double t0 = clock_mono_s();
		const char *keys[] = {c->variable};
		const char *values[] = {p.new_value};
		bool changed = false;
		rc = env_update(c->cfg->env_path, 1, keys, values, &changed, err);
		if (rc == 0) {
			cleanup_free char *msg = xasprintf("%s %s", c->cfg->env_path,
							   changed ? "updated" : "already updated");
			add_step(c, steps, ".env", msg, t0);
		}
	}
	if (rc == 0) {
		double t0 = clock_mono_s();
		rc = c->rollout(c->rollout_ctx, err);
		if (rc == 0)
			add_step(c, steps, "pods", "the pods using it replaced and ready", t0);
		else
			aerr_wrap(err,
				  "the service and %s hold the new value of %s, but the pods "
				  "were not all replaced: run `aegis-deploy rotate %s` again "
				  "to finish",
				  c->cfg->env_path, c->variable, c->variable);
	}
	if (rc == 0 && m->finish) {
		double t0 = clock_mono_s();
		bool already = false;
		rc = m->finish(&c->target, p.old_value, p.new_value, &already, err);
		if (rc == 0)
			add_step(c, steps, "retire",
				 already ? "the old value was already revoked"
					 : "the old value revoked and refused",
				 t0);
	}
	if (rc == 0) {
		double t0 = clock_mono_s();
		rc = rotate_pending_remove(c->state_dir, c->variable, err);
		if (rc == 0)
			add_step(c, steps, "done", "pending rotation removed", t0);
	}
	rotate_pending_free(&p);
	if (steps_out)
		*steps_out = steps;
	else
		json_decref(steps);
	return rc;
}

/* --- a hand edit of a rotatable variable ----------------------------------- */

char *rotate_placeholder(const char *text, const char *variable)
{
	if (!text)
		return NULL;
	cleanup_free char *head = xasprintf("<secret:%s:hmac-sha256:", variable);
	const char *at = strstr(text, head);
	if (!at)
		return NULL;
	const char *end = strchr(at, '>');
	return end ? xstrndup(at, (size_t)(end - at + 1)) : NULL;
}

bool rotate_value_changed(const char *variable, char *const *now, char *const *then, size_t n,
			  size_t *pod)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *a = rotate_placeholder(now[i], variable);
		cleanup_free char *b = a ? rotate_placeholder(then[i], variable) : NULL;
		if (a && b && strcmp(a, b) != 0) {
			*pod = i;
			return true;
		}
	}
	return false;
}

/* The latest revision that succeeded and left pods running, or 0. */
static int last_good_revision(const char *state_dir, aerr_t *err)
{
	json_t *revs = NULL;
	if (history_list(state_dir, &revs, err) < 0)
		return -1;
	int rev = 0;
	for (size_t i = json_array_size(revs); i-- > 0 && !rev;) {
		json_t *r = json_array_get(revs, i);
		const char *result = json_string_value(json_object_get(r, "result"));
		const char *command = json_string_value(json_object_get(r, "command"));
		if (result && strcmp(result, "ok") == 0 && command &&
		    strcmp(command, "teardown") != 0)
			rev = (int)json_integer_value(json_object_get(r, "revision"));
	}
	json_decref(revs);
	return rev;
}

/* What to say about VAR, whose value pod POD ran with in revision REV. */
static void say_hand_edit(strbuf *b, const char *state_dir, const config *cfg,
			  const schema_var *var, const char *pod, int rev)
{
	const config_value *cv = config_find(cfg, var->name);
	const rotate_method *m = rotate_method_find(var->rotate);
	if (b->len)
		sb_adds(b, "\n");
	if (cv && cv->source == SRC_FILE)
		sb_addf(b, "%s:%d: %s", cfg->env_path, cv->line, var->name);
	else
		sb_addf(b, "%s (%s)", var->name, cv ? config_source_name(cv->source) : "unset");
	sb_addf(b,
		" differs from the value %s ran with (revision %d), and the service keeps the old "
		"one in volume %s: deploying it would lock its clients out.  ",
		pod, rev, var->stored_in);
	cleanup_free char *pending = rotate_pending_path(state_dir, var->name);
	if (fs_exists(pending))
		sb_addf(b,
			"A rotation of %s is under way (%s): finish it with `aegis-deploy rotate "
			"%s`.",
			var->name, pending, var->name);
	else if (m && m->issue)
		sb_addf(b,
			"Put the old value back in %s, then run `aegis-deploy rotate %s` (the "
			"service issues the new one).",
			cfg->env_path, var->name);
	else
		sb_addf(b,
			"Put the old value back in %s, then run `aegis-deploy rotate %s "
			"--value-from-stdin` with the new value on stdin (or `aegis-deploy rotate "
			"%s` for a generated one).",
			cfg->env_path, var->name, var->name);
}

int rotate_refuse_hand_edits(const char *state_dir, deployment *d, podman *pm, aerr_t *err)
{
	bool any = false;
	for (size_t i = 0; i < d->cfg.schema.n && !any; i++)
		any = d->cfg.schema.vars[i].rotate != NULL;
	int rev = any ? last_good_revision(state_dir, err) : 0;
	if (rev <= 0)
		return rev;
	char **now = NULL;
	if (history_redacted_manifests(state_dir, d, false, &now, err) < 0)
		return -1;
	char **then = xcalloc(d->npods ? d->npods : 1, sizeof *then);
	int rc = 0;
	for (size_t i = 0; i < d->npods && rc == 0; i++) {
		cleanup_free char *path = xasprintf("manifests/%s.yaml", d->pods[i].name);
		size_t len = 0;
		/* a pod the revision did not deploy has nothing to compare */
		if (history_read_file(state_dir, rev, path, &then[i], &len, err) < 0) {
			free(then[i]);
			then[i] = NULL;
			aerr_clear(err);
		}
	}
	strbuf msg = STRBUF_INIT;
	for (size_t k = 0; k < d->cfg.schema.n && rc == 0; k++) {
		const schema_var *var = &d->cfg.schema.vars[k];
		size_t pod = 0;
		bool exists = false;
		if (!var->rotate || !var->stored_in ||
		    !rotate_value_changed(var->name, now, then, d->npods, &pod))
			continue;
		if (podman_volume_exists(pm, var->stored_in, &exists, err) < 0)
			rc = -1;
		else if (exists)
			say_hand_edit(&msg, state_dir, &d->cfg, var, d->pods[pod].pod_name, rev);
	}
	if (rc == 0 && msg.len)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s\nNothing was changed.", msg.s);
	sb_release(&msg);
	history_strv_free(now, d->npods);
	history_strv_free(then, d->npods);
	return rc;
}
