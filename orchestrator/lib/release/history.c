#include "release/history.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/catalog.h"
#include "config/unknownvars.h"
#include "util/fsutil.h"
#include "util/strbuf.h"

#define KEY_BYTES 32
#define KEY_FILE "history.key"
/* shortest value of an unknown variable looked for in texts (secrets_collect) */
#define UNKNOWN_SCRUB_MIN 8

static int git_fail(aerr_t *err, const char *fmt, const char *arg)
{
	const git_error *e = git_error_last();
	char what[512];
	snprintf(what, sizeof what, fmt, arg);
	return aerr_set(err, AEGIS_EFAIL, "%s: %s", what,
			e && e->message ? e->message : "libgit2 failed");
}

void history_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* --- the placeholder key ----------------------------------------------------- */

static int read_key(const char *path, unsigned char key[KEY_BYTES], aerr_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1
				       : aerr_sys(err, AEGIS_EFAIL, errno, "cannot open %s", path);
	ssize_t n = read(fd, key, KEY_BYTES);
	if (n != KEY_BYTES)
		return aerr_set(err, AEGIS_EFAIL,
				"%s: not a %d-byte key (remove it to make a new one)", path,
				KEY_BYTES);
	return 0;
}

/* The key of STATE_DIR, made on first use.  Commands that only read (diff)
 * may race with a deploy making it: the new key is linked into place, so
 * the first one made wins and every command then reads that one. */
static int history_key(const char *state_dir, unsigned char key[KEY_BYTES], aerr_t *err)
{
	cleanup_free char *path = fs_join(state_dir, KEY_FILE);
	int r = read_key(path, key, err);
	if (r <= 0)
		return r;
	if (RAND_bytes(key, KEY_BYTES) != 1)
		return aerr_set(err, AEGIS_EFAIL, "cannot make a key: RAND_bytes failed");
	cleanup_free char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return aerr_sys(err, AEGIS_EFAIL, errno, "cannot create %s", tmp);
	bool ok = write(fd, key, KEY_BYTES) == KEY_BYTES && fsync(fd) == 0;
	int saved = errno;
	close(fd);
	if (!ok) {
		unlink(tmp);
		return aerr_sys(err, AEGIS_EFAIL, saved, "cannot write %s", tmp);
	}
	r = link(tmp, path);
	saved = errno;
	unlink(tmp);
	if (r == 0)
		return 0;
	if (saved != EEXIST)
		return aerr_sys(err, AEGIS_EFAIL, saved, "cannot create %s", path);
	r = read_key(path, key, err);
	return r > 0 ? aerr_set(err, AEGIS_EFAIL, "%s vanished", path) : r;
}

/* --- secrets and placeholders ---------------------------------------------- */

typedef struct secret {
	config_value *var;
	char *placeholder;
	char *saved; /* the value while the placeholder stands in for it */
	bool scrub;  /* replaced wherever it occurs in a text (see secrets_collect) */
} secret;

typedef struct secrets {
	secret *v;
	size_t n;
} secrets;

static void secrets_free(secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].placeholder);
	free(s->v);
	*s = (secrets){0};
}

/* Longest first, so a secret that contains another is replaced whole. */
static int by_length(const void *a, const void *b)
{
	size_t la = strlen(((const secret *)a)->var->value);
	size_t lb = strlen(((const secret *)b)->var->value);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

static int secrets_collect(const char *state_dir, config *cfg, secrets *out, aerr_t *err)
{
	*out = (secrets){0};
	unsigned char key[KEY_BYTES];
	if (history_key(state_dir, key, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n; i++) {
		config_value *v = &cfg->values[i];
		if (!v->secret || !v->value || !*v->value)
			continue;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		HMAC(EVP_sha256(), key, KEY_BYTES, (const unsigned char *)v->value,
		     strlen(v->value), md, &mdlen);
		out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		/* A variable the schema does not know reaches no template: its
		 * value is a placeholder in config.json, and is looked for in
		 * the texts only when long enough not to be a common word of
		 * them (an unknown FLAG=1 must not turn every "1" of a manifest
		 * into a placeholder). */
		out->v[out->n++] = (secret){
		    .var = v,
		    .scrub = v->schema || strlen(v->value) >= UNKNOWN_SCRUB_MIN,
		    .placeholder = xasprintf("<secret:%s:hmac-sha256:%02x%02x%02x%02x>", v->name,
					     md[0], md[1], md[2], md[3]),
		};
		OPENSSL_cleanse(md, sizeof md);
	}
	OPENSSL_cleanse(key, sizeof key);
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, by_length);
	return 0;
}

/* TEXT with every occurrence of a secret value replaced by its placeholder:
 * whatever a value reached (a default built from a secret, a log line in a
 * report) is caught here even when no template named the variable. */
static char *scrub(const secrets *s, const char *text, size_t len, size_t *out_len)
{
	strbuf b = STRBUF_INIT;
	size_t i = 0, plain = 0;
	while (i < len) {
		size_t k;
		for (k = 0; k < s->n; k++) {
			if (!s->v[k].scrub)
				continue;
			const char *v = s->v[k].var->value;
			size_t vl = strlen(v);
			if (vl <= len - i && memcmp(text + i, v, vl) == 0)
				break;
		}
		if (k == s->n) {
			i++;
			continue;
		}
		sb_add(&b, text + plain, i - plain);
		sb_adds(&b, s->v[k].placeholder);
		i += strlen(s->v[k].var->value);
		plain = i;
	}
	sb_add(&b, text + plain, len - plain);
	if (out_len)
		*out_len = b.len;
	return sb_take(&b);
}

static void scrub_json(const secrets *s, json_t *js)
{
	size_t i;
	const char *k;
	json_t *v;
	if (json_is_string(js)) {
		size_t n;
		char *clean = scrub(s, json_string_value(js), json_string_length(js), &n);
		json_string_setn(js, clean, n);
		free(clean);
	} else if (json_is_object(js)) {
		json_object_foreach(js, k, v) scrub_json(s, v);
	} else if (json_is_array(js)) {
		json_array_foreach(js, i, v) scrub_json(s, v);
	}
}

/* Put the placeholders in place of the values in the configuration (or back). */
static void secrets_swap(secrets *s, bool in)
{
	for (size_t i = 0; i < s->n; i++) {
		secret *x = &s->v[i];
		if (in) {
			x->saved = x->var->value;
			x->var->value = x->placeholder;
		} else if (x->saved) {
			x->var->value = x->saved;
			x->saved = NULL;
		}
	}
}

/* Render D's templates again with the placeholders as the secrets' values:
 * a secret lands exactly where the template put it, whatever YAML quoting it
 * would need (inline, not as the secretKeyRef Podman gets, so a revision
 * shows which secret changed where).  The manifest-hash label is then set back to the live one (the
 * hash of the manifest with the real values), which is what `diff` matches
 * running pods against. */
static int render_redacted(deployment *d, secrets *s, bool lenient, char ***out, aerr_t *err)
{
	char **m = xcalloc(d->npods ? d->npods : 1, sizeof *m);
	render_opts opts = {.lenient = lenient};
	int rc = 0;
	secrets_swap(s, true);
	for (size_t i = 0; i < d->npods && rc == 0; i++) {
		cleanup_free char *tmpl = catalog_template(d->cfg.root, d->prof.pods[i]);
		rendered r = {0};
		rc = render_template(tmpl, &d->cfg, &opts, &r, err);
		if (rc < 0)
			break;
		const char *live = d->pods[i].manifest_hash;
		pod p = {0};
		if (live && pod_from_manifest(tmpl, r.yaml, r.len, &p, err) == 0 &&
		    p.manifest_hash && strlen(p.manifest_hash) == strlen(live)) {
			char *at = strstr(r.yaml, p.manifest_hash);
			if (at)
				memcpy(at, live, strlen(live));
		}
		aerr_clear(err);
		pod_free(&p);
		m[i] = r.yaml;
		r.yaml = NULL;
		rendered_free(&r);
	}
	secrets_swap(s, false);
	for (size_t i = 0; i < d->npods && rc == 0; i++) {
		char *clean = scrub(s, m[i], strlen(m[i]), NULL);
		free(m[i]);
		m[i] = clean;
	}
	if (rc < 0) {
		history_strv_free(m, d->npods);
		return -1;
	}
	*out = m;
	return 0;
}

int history_redacted_manifests(const char *state_dir, deployment *d, bool lenient, char ***out,
			       aerr_t *err)
{
	secrets s;
	if (secrets_collect(state_dir, &d->cfg, &s, err) < 0)
		return -1;
	int rc = render_redacted(d, &s, lenient, out, err);
	secrets_free(&s);
	return rc;
}

/* --- the repository ------------------------------------------------------------ */

static int open_repo(const char *state_dir, bool create, git_repository **repo, aerr_t *err)
{
	cleanup_free char *path = fs_join(state_dir, HISTORY_DIR);
	*repo = NULL;
	cleanup_free char *head = fs_join(path, "HEAD");
	if (fs_exists(head)) {
		if (git_repository_open_bare(repo, path) < 0)
			return git_fail(err, "cannot open the release history %s", path);
		return 1;
	}
	if (!create)
		return 0;
	if (fs_mkdir_private(path, 0700, err) < 0)
		return -1;
	if (git_repository_init(repo, path, 1) < 0)
		return git_fail(err, "cannot create the release history %s", path);
	return 1;
}

typedef struct file {
	char *path;
	char *data;
	size_t len;
} file;

typedef struct files {
	file *v;
	size_t n;
} files;

static void files_add(files *f, char *path, char *data, size_t len)
{
	f->v = xrealloc(f->v, (f->n + 1) * sizeof *f->v);
	f->v[f->n++] = (file){.path = path, .data = data, .len = len};
}

static void files_free(files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].data);
	}
	free(f->v);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const file *)a)->path, ((const file *)b)->path);
}

/* The tree of F[0..N) (sorted by path) below the directory PREFIX_LEN
 * characters long: a directory's files are contiguous in that order. */
static int write_tree(git_repository *repo, const file *f, size_t n, size_t prefix_len,
		      git_oid *out, aerr_t *err)
{
	git_treebuilder *bld = NULL;
	if (git_treebuilder_new(&bld, repo, NULL) < 0)
		return git_fail(err, "%s", "cannot build a tree");
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		const char *rel = f[i].path + prefix_len;
		const char *slash = strchr(rel, '/');
		git_oid oid;
		if (!slash) {
			if (git_blob_create_from_buffer(&oid, repo, f[i].data, f[i].len) < 0 ||
			    git_treebuilder_insert(NULL, bld, rel, &oid, GIT_FILEMODE_BLOB) < 0)
				rc = git_fail(err, "cannot store %s", f[i].path);
			i++;
			continue;
		}
		size_t dlen = (size_t)(slash - rel) + 1;
		size_t j = i;
		while (j < n && strncmp(f[j].path + prefix_len, rel, dlen) == 0)
			j++;
		cleanup_free char *dir = xstrndup(rel, dlen - 1);
		rc = write_tree(repo, f + i, j - i, prefix_len + dlen, &oid, err);
		if (rc == 0 && git_treebuilder_insert(NULL, bld, dir, &oid, GIT_FILEMODE_TREE) < 0)
			rc = git_fail(err, "cannot store %s", dir);
		i = j;
	}
	if (rc == 0 && git_treebuilder_write(out, bld) < 0)
		rc = git_fail(err, "%s", "cannot write a tree");
	git_treebuilder_free(bld);
	return rc;
}

static char *keep_file(const char *dir, const char *name)
{
	cleanup_free char *path = fs_join(dir, name);
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	return xstrdup(name);
}

/* The file at ROOT-relative REL, scrubbed, as source/REL. */
static int add_source(files *f, const secrets *s, const char *root, const char *rel, aerr_t *err)
{
	cleanup_free char *path = fs_join(root, rel);
	char *data = NULL;
	size_t len = 0;
	if (fs_read_file(path, &data, &len, err) < 0)
		return -1;
	size_t clean_len;
	char *clean = scrub(s, data, len, &clean_len);
	free(data);
	files_add(f, xasprintf("source/%s", rel), clean, clean_len);
	return 0;
}

/* The profile as source/profiles/NAME.yaml, where a rollback looks for it:
 * its file, wherever it was (--profile may name a path), or for the pods
 * found deployed (a command without --profile) a profile listing them. */
static int add_profile(files *f, const secrets *s, const profile *prof, aerr_t *err)
{
	char *path = xasprintf("source/profiles/%s.yaml", prof->name);
	struct stat st;
	if (prof->path && stat(prof->path, &st) == 0 && S_ISREG(st.st_mode)) {
		char *data = NULL;
		size_t len = 0;
		if (fs_read_file(prof->path, &data, &len, err) < 0) {
			free(path);
			return -1;
		}
		size_t clean_len;
		char *clean = scrub(s, data, len, &clean_len);
		free(data);
		files_add(f, path, clean, clean_len);
		return 0;
	}
	strbuf b = STRBUF_INIT;
	sb_addf(&b, "# %s: the pods of the command, found by their labels\nname: %s\npods: [",
		prof->path ? prof->path : prof->name, prof->name);
	for (size_t i = 0; i < prof->npods; i++)
		sb_addf(&b, "%s%s", i ? ", " : "", prof->pods[i]);
	sb_adds(&b, "]\n");
	size_t len = b.len;
	files_add(f, path, sb_take(&b), len);
	return 0;
}

/* What a revision needs to render its manifests again: each pod's template
 * directory, the profile and the variables' schema. */
static int add_sources(files *f, const secrets *s, const deployment *d, aerr_t *err)
{
	const char *root = d->cfg.root;
	for (size_t i = 0; i < d->npods; i++) {
		cleanup_free char *dir = xasprintf("%s/kube/%s", root, d->prof.pods[i]);
		char **names = NULL;
		size_t n = 0;
		if (fs_list_dir(dir, keep_file, &names, &n, err) < 0)
			return -1;
		int rc = 0;
		for (size_t k = 0; k < n && rc == 0; k++) {
			cleanup_free char *rel = xasprintf("kube/%s/%s", d->prof.pods[i], names[k]);
			rc = add_source(f, s, root, rel, err);
		}
		strv_free(names, n);
		if (rc < 0)
			return -1;
	}
	if (add_profile(f, s, &d->prof, err) < 0 ||
	    add_source(f, s, root, "kube/variables.yaml", err) < 0)
		return -1;
	cleanup_free char *unknown = fs_join(root, UNKNOWNVARS_FILE);
	if (fs_exists(unknown) && add_source(f, s, root, UNKNOWNVARS_FILE, err) < 0)
		return -1;
	return 0;
}

static char *dump_json(const secrets *s, json_t *js, size_t *len)
{
	scrub_json(s, js);
	char *text = json_dumps(js, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	size_t n = strlen(text);
	char *out = xmalloc(n + 2);
	memcpy(out, text, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	free(text);
	*len = n + 1;
	return out;
}

static json_t *plan_json(const deployment *d)
{
	json_t *tiers = json_array();
	for (size_t t = 0; t < d->plan.ntiers; t++) {
		json_t *tier = json_array();
		for (size_t k = 0; k < d->plan.tiers[t].n; k++)
			json_array_append_new(tier,
					      json_string(d->pods[d->plan.tiers[t].pods[k]].name));
		json_array_append_new(tiers, tier);
	}
	json_t *pods = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		json_t *deps = json_array();
		for (size_t k = 0; k < p->ndepends; k++)
			json_array_append_new(deps, json_string(p->depends[k]));
		json_t *o =
		    json_pack("{s:s, s:s, s:i, s:o}", "name", p->name, "pod_name", p->pod_name,
			      "tier", (int)d->plan.tier_of[i], "depends", deps);
		json_object_set_new(o, "manifest_hash",
				    p->manifest_hash ? json_string(p->manifest_hash) : json_null());
		json_array_append_new(pods, o);
	}
	return json_pack("{s:s, s:o, s:o}", "profile", d->prof.name, "tiers", tiers, "pods", pods);
}

/* Every variable with a value; secrets as their placeholders. */
static json_t *config_json(const config *cfg, const secrets *s)
{
	json_t *o = json_object();
	for (size_t i = 0; i < cfg->n; i++) {
		const config_value *v = &cfg->values[i];
		if (!v->value)
			continue;
		const char *shown = v->value;
		for (size_t k = 0; k < s->n; k++)
			if (s->v[k].var == v)
				shown = s->v[k].placeholder;
		json_object_set_new(o, v->name, json_string(shown));
	}
	return o;
}

static void ci_source(json_t *src)
{
	const char *gl = getenv("CI_JOB_URL"), *pipeline = getenv("CI_PIPELINE_ID");
	const char *run = getenv("GITHUB_RUN_ID"), *repo = getenv("GITHUB_REPOSITORY");
	const char *jenkins = getenv("BUILD_URL");
	if (gl && *gl) {
		json_object_set_new(src, "ci_job", json_string(gl));
		if (pipeline && *pipeline)
			json_object_set_new(src, "ci_pipeline", json_string(pipeline));
	} else if (run && *run && repo && *repo) {
		const char *server = getenv("GITHUB_SERVER_URL");
		json_object_set_new(src, "ci_job",
				    json_sprintf("%s/%s/actions/runs/%s",
						 server && *server ? server : "https://github.com",
						 repo, run));
	} else if (jenkins && *jenkins) {
		json_object_set_new(src, "ci_job", json_string(jenkins));
	}
}

int history_source_commit(const char *root, char **commit, aerr_t *err)
{
	*commit = NULL;
	git_libgit2_init();
	git_repository *repo = NULL;
	int r = git_repository_open_ext(&repo, root, 0, NULL);
	if (r == GIT_ENOTFOUND) {
		git_libgit2_shutdown();
		return 0;
	}
	int rc = 0;
	if (r < 0) {
		rc = git_fail(err, "cannot open the git checkout of %s", root);
		goto out;
	}
	git_oid head;
	if (git_reference_name_to_id(&head, repo, "HEAD") < 0) {
		*commit = xstrdup("(no commit)");
		goto out;
	}
	/* like `git describe --dirty`: tracked files that differ from HEAD
	 * (staged or not) make it dirty; untracked files do not */
	git_status_options so = GIT_STATUS_OPTIONS_INIT;
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	git_status_list *st = NULL;
	if (git_status_list_new(&st, repo, &so) < 0) {
		rc = git_fail(err, "cannot read the status of the git checkout of %s", root);
		goto out;
	}
	bool dirty = git_status_list_entrycount(st) > 0;
	git_status_list_free(st);
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof hex, &head);
	*commit = xasprintf("%s%s", hex, dirty ? "-dirty" : "");
out:
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

static const char *state_word(const rollout_pod *st)
{
	if (st->state == ROLL_FAILED)
		return "failed";
	if (st->kept)
		return "kept";
	if (st->start >= 0)
		return "replaced";
	return NULL;
}

static json_t *names_with(const deployment *d, const history_entry *e, const char *word)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->npods; i++) {
		const char *w = e->states ? state_word(&e->states[i]) : "removed";
		if (w && strcmp(w, word) == 0)
			json_array_append_new(a, json_string(d->pods[i].name));
	}
	return a;
}

static void add_list_line(strbuf *b, const char *label, const json_t *names)
{
	sb_addf(b, "%s:", label);
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v) sb_addf(b, "%s %s", i ? "," : "", json_string_value(v));
	if (!json_array_size(names))
		sb_adds(b, " (none)");
	sb_addc(b, '\n');
}

static char *commit_message(const json_t *rev)
{
	strbuf b = STRBUF_INIT;
	const char *command = json_string_value(json_object_get(rev, "command"));
	sb_addf(&b, "%s %s: %s", command, json_string_value(json_object_get(rev, "profile")),
		json_string_value(json_object_get(rev, "result")));
	if (strcmp(command, "teardown") == 0)
		sb_addf(&b, ", %zu removed", json_array_size(json_object_get(rev, "removed")));
	else
		sb_addf(&b, ", %zu replaced, %zu kept, %zu failed",
			json_array_size(json_object_get(rev, "replaced")),
			json_array_size(json_object_get(rev, "kept")),
			json_array_size(json_object_get(rev, "failed")));
	sb_addf(&b, ", %.1f s\n\n", json_real_value(json_object_get(rev, "duration_s")));
	if (strcmp(command, "teardown") == 0) {
		add_list_line(&b, "Pods removed", json_object_get(rev, "removed"));
	} else {
		add_list_line(&b, "Pods replaced", json_object_get(rev, "replaced"));
		add_list_line(&b, "Pods kept", json_object_get(rev, "kept"));
		add_list_line(&b, "Pods failed", json_object_get(rev, "failed"));
	}
	const char *error = json_string_value(json_object_get(rev, "error"));
	if (error)
		sb_addf(&b, "Error: %s\n", error);
	const json_t *restore = json_object_get(rev, "restore");
	if (restore) {
		add_list_line(&b, "Pods restored (--atomic)", json_object_get(restore, "pods"));
		sb_addf(&b, "Restore to revision %d: %s\n",
			(int)json_integer_value(json_object_get(restore, "revision")),
			json_string_value(json_object_get(restore, "result")));
	}
	if (json_object_get(rev, "rotated"))
		sb_addf(&b, "Rotated %s\n", json_string_value(json_object_get(rev, "rotated")));
	if (json_object_get(rev, "rollback_of"))
		sb_addf(&b, "Rolled back to revision %d\n",
			(int)json_integer_value(json_object_get(rev, "rollback_of")));
	const json_t *src = json_object_get(rev, "source");
	sb_addf(&b, "\nRevision: %d\nCommand: %s\nProfile: %s\nResult: %s\nDuration: %.3f s\n",
		(int)json_integer_value(json_object_get(rev, "revision")), command,
		json_string_value(json_object_get(rev, "profile")),
		json_string_value(json_object_get(rev, "result")),
		json_real_value(json_object_get(rev, "duration_s")));
	const char *commit = json_string_value(json_object_get(src, "commit"));
	if (commit)
		sb_addf(&b, "Source-Commit: %s\n", commit);
	const char *job = json_string_value(json_object_get(src, "ci_job"));
	if (job)
		sb_addf(&b, "CI-Job: %s\n", job);
	const char *pipeline = json_string_value(json_object_get(src, "ci_pipeline"));
	if (pipeline)
		sb_addf(&b, "CI-Pipeline: %s\n", pipeline);
	return sb_take(&b);
}

/* The revision.json of COMMIT, or NULL. */
static json_t *revision_of(git_commit *commit)
{
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	json_t *js = NULL;
	if (git_commit_tree(&tree, commit) == 0 &&
	    git_tree_entry_bypath(&ent, tree, "revision.json") == 0 &&
	    git_blob_lookup(&blob, git_commit_owner(commit), git_tree_entry_id(ent)) == 0)
		js = json_loadb(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), 0, NULL);
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	if (js && !json_is_object(js)) {
		json_decref(js);
		js = NULL;
	}
	if (js) {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof hex, git_commit_id(commit));
		json_object_set_new(js, "commit", json_string(hex));
	}
	return js;
}

static int head_commit(git_repository *repo, git_commit **out, aerr_t *err)
{
	git_oid id;
	*out = NULL;
	int r = git_reference_name_to_id(&id, repo, "HEAD");
	if (r == GIT_ENOTFOUND || r == GIT_EUNBORNBRANCH)
		return 0;
	if (r < 0 || git_commit_lookup(out, repo, &id) < 0)
		return git_fail(err, "%s", "cannot read the release history's HEAD");
	return 0;
}

static char *signature_email(void)
{
	char host[256] = "localhost";
	if (gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	struct passwd *pw = getpwuid(getuid());
	return xasprintf("%s@%s", pw && pw->pw_name ? pw->pw_name : "aegis", host);
}

/* The revision.json of revision NUMBER, secrets scrubbed; NULL on failure. */
static json_t *revision_json(const deployment *d, const history_entry *e, const secrets *s,
			     int number, aerr_t *err)
{
	json_t *src = e->source ? json_deep_copy(e->source) : json_object();
	json_object_del(src, "ci_job");
	json_object_del(src, "ci_pipeline");
	char *commit = NULL;
	if (!e->source && history_source_commit(d->cfg.root, &commit, err) < 0) {
		json_decref(src);
		return NULL;
	}
	if (commit)
		json_object_set_new(src, "commit", json_string(commit));
	free(commit);
	ci_source(src);
	json_t *revjs = json_pack("{s:i, s:I, s:s, s:s, s:s, s:f, s:o}", "revision", number, "time",
				  (json_int_t)time(NULL), "command", e->command, "profile",
				  d->prof.name, "result", e->ok ? "ok" : "failed", "duration_s",
				  e->duration_s, "source", src);
	if (e->states) {
		json_object_set_new(revjs, "replaced", names_with(d, e, "replaced"));
		json_object_set_new(revjs, "kept", names_with(d, e, "kept"));
		json_object_set_new(revjs, "failed", names_with(d, e, "failed"));
	} else {
		json_object_set_new(revjs, "removed", names_with(d, e, "removed"));
	}
	if (e->error)
		json_object_set_new(revjs, "error", json_string(e->error));
	if (e->rollback_of > 0)
		json_object_set_new(revjs, "rollback_of", json_integer(e->rollback_of));
	if (e->rotated)
		json_object_set_new(revjs, "rotated", json_string(e->rotated));
	if (e->restore)
		json_object_set_new(revjs, "restore", json_deep_copy(e->restore));
	if (e->snapshot)
		json_object_set_new(revjs, "snapshot", json_deep_copy(e->snapshot));
	if (e->data_restored)
		json_object_set_new(revjs, "data_restored", json_deep_copy(e->data_restored));
	json_t *pods = json_object();
	for (size_t i = 0; i < d->npods; i++) {
		json_t *o = json_pack(
		    "{s:s, s:o}", "pod_name", d->pods[i].pod_name, "manifest_hash",
		    d->pods[i].manifest_hash ? json_string(d->pods[i].manifest_hash) : json_null());
		json_t *ran = json_object_get(e->images, d->pods[i].name);
		if (ran)
			json_object_set_new(o, "images", json_deep_copy(ran));
		json_object_set_new(pods, d->pods[i].name, o);
	}
	json_object_set_new(revjs, "pods", pods);
	scrub_json(s, revjs);
	return revjs;
}

/* NAME: JS as the revision keeps it (secrets scrubbed), added to F. */
static void add_json(files *f, const secrets *s, const char *name, const json_t *js)
{
	size_t len;
	json_t *copy = json_deep_copy(js);
	char *text = dump_json(s, copy, &len);
	json_decref(copy);
	files_add(f, xstrdup(name), text, len);
}

/* Commit the files F (sorted) on PARENT with REVJS's message. */
static int commit_files(git_repository *repo, git_commit *parent, files *f, const json_t *revjs,
			aerr_t *err)
{
	git_oid tree_id, commit_id;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	char *message = NULL;
	char *email = signature_email();
	int rc = -1;
	if (write_tree(repo, f->v, f->n, 0, &tree_id, err) < 0)
		goto out;
	if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
		git_fail(err, "%s", "cannot read back the tree just written");
		goto out;
	}
	if (git_signature_now(&sig, "aegis-deploy", email) < 0) {
		git_fail(err, "%s", "cannot make a commit signature");
		goto out;
	}
	message = commit_message(revjs);
	const git_commit *parents[1] = {parent};
	if (git_commit_create(&commit_id, repo, "HEAD", sig, sig, NULL, message, tree,
			      parent ? 1 : 0, parents) < 0) {
		git_fail(err, "%s", "cannot commit to the release history");
		goto out;
	}
	rc = 0;
out:
	free(email);
	free(message);
	git_signature_free(sig);
	git_tree_free(tree);
	return rc;
}

int history_record(const char *state_dir, deployment *d, const history_entry *e, int *rev,
		   aerr_t *err)
{
	secrets s;
	if (secrets_collect(state_dir, &d->cfg, &s, err) < 0)
		return -1;
	files f = {0};
	char **manifests = NULL;
	json_t *revjs = NULL;
	git_repository *repo = NULL;
	git_commit *parent = NULL;
	int rc = -1;
	git_libgit2_init();

	if (render_redacted(d, &s, e->lenient, &manifests, err) < 0)
		goto out;
	for (size_t i = 0; i < d->npods; i++) {
		files_add(&f, xasprintf("manifests/%s.yaml", d->pods[i].name), manifests[i],
			  strlen(manifests[i]));
		manifests[i] = NULL;
	}
	if (add_sources(&f, &s, d, err) < 0)
		goto out;
	if (open_repo(state_dir, true, &repo, err) < 0 || head_commit(repo, &parent, err) < 0)
		goto out;
	int number = 1;
	if (parent) {
		json_t *prev = revision_of(parent);
		number = (int)json_integer_value(json_object_get(prev, "revision")) + 1;
		json_decref(prev);
	}
	revjs = revision_json(d, e, &s, number, err);
	if (!revjs)
		goto out;
	add_json(&f, &s, "revision.json", revjs);
	json_t *plan = plan_json(d);
	add_json(&f, &s, "plan.json", plan);
	json_decref(plan);
	json_t *cfgjs = config_json(&d->cfg, &s);
	add_json(&f, &s, "config.json", cfgjs);
	json_decref(cfgjs);
	if (e->report)
		add_json(&f, &s, "report.json", e->report);
	qsort(f.v, f.n, sizeof *f.v, by_path);
	if (commit_files(repo, parent, &f, revjs, err) < 0)
		goto out;
	if (rev)
		*rev = number;
	rc = 0;
out:
	git_commit_free(parent);
	git_repository_free(repo);
	git_libgit2_shutdown();
	json_decref(revjs);
	history_strv_free(manifests, d->npods);
	files_free(&f);
	secrets_free(&s);
	return rc;
}

/* --- reading ------------------------------------------------------------------ */

/* Every commit from the root to HEAD along first parents (oldest first). */
static int walk(git_repository *repo, git_commit ***out, size_t *n, aerr_t *err)
{
	*out = NULL;
	*n = 0;
	git_commit *c = NULL;
	if (head_commit(repo, &c, err) < 0)
		return -1;
	while (c) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = c;
		git_commit *p = NULL;
		if (git_commit_parentcount(c) > 0 && git_commit_parent(&p, c, 0) < 0)
			return git_fail(err, "%s", "cannot read the release history");
		c = p;
	}
	for (size_t i = 0; i < *n / 2; i++) {
		git_commit *t = (*out)[i];
		(*out)[i] = (*out)[*n - 1 - i];
		(*out)[*n - 1 - i] = t;
	}
	return 0;
}

static void commits_free(git_commit **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		git_commit_free(v[i]);
	free(v);
}

/* Every revision of the history in a state directory, oldest first (none
 * when it has no history yet). */
struct all_commits {
	git_repository *repo;
	git_commit **v;
	size_t n;
};

static int all_commits_open(const char *state_dir, struct all_commits *c, aerr_t *err)
{
	*c = (struct all_commits){0};
	git_libgit2_init();
	int rc = open_repo(state_dir, false, &c->repo, err);
	if (rc > 0)
		rc = walk(c->repo, &c->v, &c->n, err);
	return rc < 0 ? -1 : 0;
}

static void all_commits_close(struct all_commits *c)
{
	commits_free(c->v, c->n);
	git_repository_free(c->repo);
	git_libgit2_shutdown();
}

int history_list(const char *state_dir, json_t **revisions, aerr_t *err)
{
	*revisions = json_array();
	struct all_commits c;
	int rc = all_commits_open(state_dir, &c, err);
	for (size_t i = 0; rc >= 0 && i < c.n; i++) {
		json_t *js = revision_of(c.v[i]);
		if (js)
			json_array_append_new(*revisions, js);
	}
	all_commits_close(&c);
	if (rc < 0) {
		json_decref(*revisions);
		*revisions = NULL;
		return -1;
	}
	return 0;
}

/* The commit of revision REV (0: the latest). */
static int find_revision(git_repository *repo, const char *state_dir, int rev, git_commit **out,
			 aerr_t *err)
{
	git_commit **commits = NULL;
	size_t n = 0;
	*out = NULL;
	if (walk(repo, &commits, &n, err) < 0) {
		commits_free(commits, n);
		return -1;
	}
	for (size_t i = n; i-- > 0 && !*out;) {
		json_t *js = revision_of(commits[i]);
		if (js &&
		    (rev == 0 || json_integer_value(json_object_get(js, "revision")) == rev)) {
			*out = commits[i];
			commits[i] = NULL;
		}
		json_decref(js);
	}
	commits_free(commits, n);
	if (*out)
		return 0;
	if (rev == 0)
		return aerr_set(err, AEGIS_ECONFIG, "the release history in %s/%s is empty",
				state_dir, HISTORY_DIR);
	return aerr_set(err, AEGIS_ECONFIG, "no revision %d in the release history %s/%s", rev,
			state_dir, HISTORY_DIR);
}

static int open_revision(const char *state_dir, int rev, git_repository **repo, git_commit **c,
			 aerr_t *err)
{
	*c = NULL;
	int r = open_repo(state_dir, false, repo, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return aerr_set(err, AEGIS_ECONFIG,
				"no release history in %s (nothing recorded yet)", state_dir);
	return find_revision(*repo, state_dir, rev, c, err);
}

static int list_file(const char *root, const git_tree_entry *entry, void *payload)
{
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return 0;
	cleanup_free char *path = xasprintf("%s%s", root, git_tree_entry_name(entry));
	json_object_set_new(payload, path, json_null());
	return 0;
}

int history_show(const char *state_dir, int rev, json_t **info, aerr_t *err)
{
	*info = NULL;
	git_libgit2_init();
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	int rc = open_revision(state_dir, rev, &repo, &c, err);
	if (rc == 0 && git_commit_tree(&tree, c) < 0)
		rc = git_fail(err, "%s", "cannot read a revision's tree");
	if (rc == 0) {
		json_t *files = json_object();
		git_tree_walk(tree, GIT_TREEWALK_PRE, list_file, files);
		const char *path;
		json_t *v;
		json_object_foreach(files, path, v)
		{
			git_tree_entry *ent = NULL;
			git_blob *blob = NULL;
			if (git_tree_entry_bypath(&ent, tree, path) == 0 &&
			    git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) == 0)
				json_object_set_new(
				    files, path, json_integer((json_int_t)git_blob_rawsize(blob)));
			git_blob_free(blob);
			git_tree_entry_free(ent);
		}
		*info = revision_of(c);
		if (!*info)
			*info = json_object();
		json_object_set_new(*info, "message", json_string(git_commit_message(c)));
		json_object_set_new(*info, "files", files);
	}
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int history_read_file(const char *state_dir, int rev, const char *path, char **data, size_t *len,
		      aerr_t *err)
{
	*data = NULL;
	git_libgit2_init();
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	int rc = open_revision(state_dir, rev, &repo, &c, err);
	if (rc == 0 && git_commit_tree(&tree, c) < 0)
		rc = git_fail(err, "%s", "cannot read a revision's tree");
	if (rc == 0 && (git_tree_entry_bypath(&ent, tree, path) < 0 ||
			git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) < 0))
		rc = aerr_set(err, AEGIS_EFAIL, "revision %d has no file %s", rev, path);
	if (rc == 0) {
		size_t n = (size_t)git_blob_rawsize(blob);
		*data = xmalloc(n + 1);
		memcpy(*data, git_blob_rawcontent(blob), n);
		(*data)[n] = '\0';
		if (len)
			*len = n;
	}
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

static int blob_at(git_commit *c, const char *path, char **data)
{
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	*data = NULL;
	if (git_commit_tree(&tree, c) == 0 && git_tree_entry_bypath(&ent, tree, path) == 0 &&
	    git_blob_lookup(&blob, git_commit_owner(c), git_tree_entry_id(ent)) == 0) {
		size_t n = (size_t)git_blob_rawsize(blob);
		*data = xmalloc(n + 1);
		memcpy(*data, git_blob_rawcontent(blob), n);
		(*data)[n] = '\0';
	}
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	return *data ? 0 : -1;
}

int history_find_manifest(const char *state_dir, const char *name, const char *hash, char **yaml,
			  int *rev, aerr_t *err)
{
	*yaml = NULL;
	struct all_commits c;
	int rc = all_commits_open(state_dir, &c, err);
	for (size_t i = c.n; rc >= 0 && i-- > 0 && !*yaml;) {
		json_t *js = revision_of(c.v[i]);
		const char *h = json_string_value(json_object_get(
		    json_object_get(json_object_get(js, "pods"), name), "manifest_hash"));
		if (h && strcmp(h, hash) == 0) {
			cleanup_free char *path = xasprintf("manifests/%s.yaml", name);
			if (blob_at(c.v[i], path, yaml) == 0 && rev)
				*rev = (int)json_integer_value(json_object_get(js, "revision"));
		}
		json_decref(js);
	}
	all_commits_close(&c);
	return rc < 0 ? -1 : 0;
}

struct extract {
	git_repository *repo;
	const char *prefix;
	const char *dir;
	aerr_t *err;
	int rc;
};

static int extract_entry(const char *root, const git_tree_entry *entry, void *payload)
{
	struct extract *x = payload;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return 0;
	cleanup_free char *path = xasprintf("%s%s", root, git_tree_entry_name(entry));
	size_t plen = strlen(x->prefix);
	if (strncmp(path, x->prefix, plen) != 0)
		return 0;
	const char *rel = path + plen;
	/* tree entries never hold "..", but a history is input like any other */
	if (strstr(rel, "..") || rel[0] == '/') {
		x->rc = aerr_set(x->err, AEGIS_EFAIL, "revision file %s: unexpected path", path);
		return -1;
	}
	cleanup_free char *out = fs_join(x->dir, rel);
	cleanup_free char *parent = fs_dirname(out);
	git_blob *blob = NULL;
	if (fs_mkdir_private(parent, 0700, x->err) < 0 ||
	    git_blob_lookup(&blob, x->repo, git_tree_entry_id(entry)) < 0 ||
	    fs_write_atomic(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), 0600,
			    x->err) < 0) {
		if (!x->err->msg[0])
			git_fail(x->err, "cannot read %s", path);
		x->rc = -1;
	}
	git_blob_free(blob);
	return x->rc < 0 ? -1 : 0;
}

int history_extract(const char *state_dir, int rev, const char *prefix, const char *dir,
		    aerr_t *err)
{
	git_libgit2_init();
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	aerr_clear(err);
	int rc = open_revision(state_dir, rev, &repo, &c, err);
	if (rc == 0 && git_commit_tree(&tree, c) < 0)
		rc = git_fail(err, "%s", "cannot read a revision's tree");
	if (rc == 0) {
		struct extract x = {.repo = repo, .prefix = prefix, .dir = dir, .err = err};
		git_tree_walk(tree, GIT_TREEWALK_PRE, extract_entry, &x);
		rc = x.rc;
	}
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
