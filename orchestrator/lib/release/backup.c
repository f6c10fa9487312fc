/* Volume backups (backup.h).  Podman 4.3's REST API has no volume export
 * or import (`podman volume export` is local to its CLI), and the archive
 * endpoints behind `podman cp` rewrite every owner to the container user's
 * (libpod/container_copy_common.go, copyToArchive: ChownDirs/ChownFiles),
 * which a PostgreSQL data directory does not survive.  So the files are
 * copied where the volume lives, found through the API (its Mountpoint), by
 * GNU tar with numeric owners, modes, ACLs and extended attributes kept;
 * rootless, inside `podman unshare`, where the container's owners map. */
#include "release/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/profile.h"
#include "release/state.h"
#include "render/render.h"
#include "rollout/wait.h"
#include "util/fsutil.h"
#include "util/http.h"
#include "util/spawn.h"
#include "util/strbuf.h"

/* How long a pod stopped for its backup may take to be ready again. */
#define BACKUP_READY_TIMEOUT_S 300
#define STOP_TIMEOUT_S 30
/* How long Podman's exit commands of a stopped pod are waited for before it
 * is started again (podman_stop_pod_settled). */
#define EXIT_COMMANDS_TIMEOUT_S 15

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void notef(backup_note_fn note, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void notef(backup_note_fn note, void *ctx, const char *fmt, ...)
{
	if (!note)
		return;
	strbuf b = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&b, fmt, ap);
	va_end(ap);
	note(ctx, b.s);
	sb_release(&b);
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int file_sha256(const char *path, char *sum, unsigned long long *size, aerr_t *err);

/* The host directory of VOLUME (newly allocated in *DIR): it must be on
 * this machine (a volume of an ssh:// host is not). */
static int volume_dir(podman *pm, const char *volume, char **dir, aerr_t *err)
{
	cleanup_free char *name = http_escape(volume);
	cleanup_free char *path = xasprintf("/libpod/volumes/%s/json", name);
	json_t *js = NULL;
	if (podman_call(pm, "GET", path, NULL, NULL, 0, NULL, NULL, &js, err) < 0)
		return aerr_wrap(err, "volume %s", volume);
	const char *m = json_string_value(json_object_get(js, "Mountpoint"));
	struct stat st;
	int rc = 0;
	if (!m || !*m)
		rc = aerr_set(err, AEGIS_EFAIL, "volume %s: Podman gives no Mountpoint", volume);
	else if (stat(m, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = aerr_set(err, AEGIS_EFAIL,
			      "volume %s: its files (%s) are not on this machine: run backup and "
			      "restore on the host of the pods",
			      volume, m);
	else
		*dir = xasprintf("%s", m);
	json_decref(js);
	return rc;
}

/* Run GNU tar with ARGS (after the options every call shares), inside
 * `podman unshare` when rootless; its messages go to LOG. */
static int run_tar(const char *const *args, size_t nargs, const char *log, aerr_t *err)
{
	const char *argv[16];
	size_t n = 0;
	if (geteuid() != 0) {
		argv[n++] = "podman";
		argv[n++] = "unshare";
	}
	argv[n++] = "tar";
	argv[n++] = "--numeric-owner";
	argv[n++] = "--acls";
	argv[n++] = "--xattrs";
	argv[n++] = "--xattrs-include=*";
	for (size_t i = 0; i < nargs && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int status = 0;
	if (spawn_run((char *const *)argv, log, &status, err) < 0)
		return aerr_wrap(err, "cannot run tar");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char last[512];
		spawn_log_tail(log, last, sizeof last);
		return aerr_set(err, AEGIS_EFAIL, "tar failed (status %d): %s",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1, last);
	}
	return 0;
}

/* Copy VOLUME into the archive PATH (created 0600 here, so tar never
 * creates it with another mode); the entry for the manifest into *ENTRY. */
static int export_volume(podman *pm, const char *volume, const char *path, json_t **entry,
			 aerr_t *err)
{
	cleanup_free char *dir = NULL;
	if (volume_dir(pm, volume, &dir, err) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return aerr_set(err, AEGIS_EFAIL, "cannot create %s: %s", path, strerror(errno));
	close(fd);
	cleanup_free char *log = xasprintf("%s.log", path);
	const char *args[] = {"-C", dir, "-cf", path, "."};
	int rc = run_tar(args, 5, log, err);
	unlink(log);
	if (rc < 0)
		return aerr_wrap(err, "volume %s: export failed", volume);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return aerr_set(err, AEGIS_EFAIL, "cannot sync %s: %s", path, strerror(e));
	}
	close(fd);
	char sum[2 * EVP_MAX_MD_SIZE + 1];
	unsigned long long size = 0;
	if (file_sha256(path, sum, &size, err) < 0)
		return -1;
	*entry =
	    json_pack("{s:s, s:I, s:s}", "name", volume, "size", (json_int_t)size, "sha256", sum);
	return 0;
}

/* --- choosing pods ------------------------------------------------------------ */

/* Indexes of the pods named (each must exist in D and hold volumes), or of
 * every pod of D with volumes.  *IDX newly allocated. */
static int select_pods(const deployment *d, char *const *pods, size_t npods, size_t **idx,
		       size_t *n, aerr_t *err)
{
	*idx = calloc(d->npods ? d->npods : 1, sizeof **idx);
	if (!*idx)
		abort();
	*n = 0;
	for (size_t i = 0; i < d->npods; i++) {
		bool want = npods == 0 && d->pods[i].nvolumes > 0;
		for (size_t j = 0; j < npods; j++)
			want = want || strcmp(pods[j], d->pods[i].name) == 0;
		if (want)
			(*idx)[(*n)++] = i;
	}
	for (size_t j = 0; j < npods; j++) {
		int k = deployment_find_pod(d, pods[j], err);
		if (k < 0)
			goto fail;
		if (d->pods[k].nvolumes == 0) {
			aerr_set(err, AEGIS_ECONFIG, "pod %s holds no volumes: nothing to back up",
				 pods[j]);
			goto fail;
		}
	}
	if (*n == 0) {
		aerr_set(err, AEGIS_ECONFIG, "no pod of profile %s holds a volume", d->prof.name);
		goto fail;
	}
	return 0;
fail:
	free(*idx);
	*idx = NULL;
	return -1;
}

static bool pod_running(podman *pm, const char *pod_name)
{
	json_t *js = NULL;
	aerr_t ignored = {0};
	if (podman_inspect_pod(pm, pod_name, &js, &ignored) < 0 || !js)
		return false;
	const char *state = json_string_value(json_object_get(js, "State"));
	bool up = state && (strcmp(state, "Running") == 0 || strcmp(state, "Degraded") == 0);
	json_decref(js);
	return up;
}

static json_t *image_entries(podman *pm, const pod *p)
{
	json_t *a = json_array();
	for (size_t c = 0; c < p->ncontainers; c++) {
		cleanup_free char *ref = http_escape(p->containers[c].image);
		cleanup_free char *path = xasprintf("/libpod/images/%s/json", ref);
		json_t *js = NULL;
		aerr_t ignored = {0};
		static const long ok404[] = {404, 0};
		podman_call(pm, "GET", path, NULL, NULL, 0, ok404, NULL, &js, &ignored);
		const char *id = json_string_value(json_object_get(js, "Id"));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s?}", "pod", p->name,
						   "container", p->containers[c].name, "image",
						   p->containers[c].image, "id", id));
		json_decref(js);
	}
	return a;
}

static int sync_dir(const char *dir, aerr_t *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return aerr_set(err, AEGIS_EFAIL, "cannot sync directory %s: %s", dir, strerror(e));
	}
	close(fd);
	return 0;
}

static char *any_name(const char *dir, const char *name)
{
	(void)dir;
	return xasprintf("%s", name);
}

static void remove_tree(const char *dir)
{
	char **names = NULL;
	size_t n = 0;
	aerr_t ignored = {0};
	if (fs_list_dir(dir, any_name, &names, &n, &ignored) == 0) {
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *p = fs_join(dir, names[i]);
			unlink(p);
			free(names[i]);
		}
		free(names);
	}
	rmdir(dir);
}

/* --- a killed backup's stopped pods ------------------------------------------- */

/* The pods stopped for a copy and not started again yet, in the partial
 * directory TMP, so that a backup killed meanwhile can be finished by the
 * next one (backup_recover).  Written before each stop, atomically. */
#define STOPPED_FILE "stopped.json"

static int note_stopped(const char *tmp, const json_t *stopped, aerr_t *err)
{
	cleanup_free char *path = fs_join(tmp, STOPPED_FILE);
	cleanup_free char *text = json_dumps(stopped, JSON_COMPACT);
	return fs_write_atomic(path, text, strlen(text), 0600, err);
}

static char *partial_name(const char *dir, const char *name)
{
	(void)dir;
	const char *at = strstr(name, ".partial-");
	return at ? xasprintf("%s", name) : NULL;
}

int backup_recover(podman *pm, const deployment *d, const char *parent, backup_note_fn note,
		   void *ctx, aerr_t *err)
{
	char **names = NULL;
	size_t n = 0;
	aerr_t ignored = {0};
	if (!fs_exists(parent) || fs_list_dir(parent, partial_name, &names, &n, &ignored) < 0)
		return 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		long pid = strtol(strstr(names[i], ".partial-") + strlen(".partial-"), NULL, 10);
		/* a backup still running (another command) is left alone */
		if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		cleanup_free char *dir = fs_join(parent, names[i]);
		cleanup_free char *path = fs_join(dir, STOPPED_FILE);
		json_t *stopped = fs_exists(path) ? json_load_file(path, 0, NULL) : NULL;
		size_t k;
		json_t *v;
		bool all = true;
		json_array_foreach(stopped, k, v)
		{
			int idx = deployment_pod_index(d, json_string_value(v));
			if (idx < 0 || pod_running(pm, d->pods[idx].pod_name))
				continue;
			notef(note, ctx, "%s: left stopped by a killed backup (%s): starting it",
			      d->pods[idx].name, dir);
			rollout_pod rs = {0};
			aerr_t serr = {0};
			int src = podman_start_pod(pm, d->pods[idx].pod_name, &serr);
			if (src == 0)
				src = wait_pod_ready(pm, d, (size_t)idx, BACKUP_READY_TIMEOUT_S,
						     &rs, &serr);
			rollout_pod_free(&rs);
			if (src < 0) {
				all = false;
				if (rc == 0) {
					*err = serr;
					aerr_wrap(
					    err,
					    "pod %s, left stopped by a killed backup, did not "
					    "come back",
					    d->pods[idx].name);
					rc = -1;
				}
			} else {
				notef(note, ctx, "%s: running again", d->pods[idx].name);
			}
		}
		json_decref(stopped);
		if (all)
			remove_tree(dir);
	}
	strv_free(names, n);
	return rc;
}

/* --- backup ------------------------------------------------------------------- */

/* backup_create; GATE: a pod started again after its copy must pass its
 * readiness probes before the next one (a snapshot's pods, about to be
 * replaced, are only started again: a pod that was not ready before must
 * not stop the deploy that replaces it). */
static int create_set(podman *pm, const deployment *d, char *const *pods, size_t npods,
		      const char *out, int revision, bool gate, backup_note_fn note, void *ctx,
		      json_t **manifest, aerr_t *err)
{
	if (manifest)
		*manifest = NULL;
	struct stat st;
	if (lstat(out, &st) == 0)
		return aerr_set(err, AEGIS_ECONFIG,
				"%s already exists: a backup is written to a new directory", out);
	size_t *idx = NULL, nidx = 0;
	if (select_pods(d, pods, npods, &idx, &nidx, err) < 0)
		return -1;
	cleanup_free char *parent = fs_dirname(out);
	cleanup_free char *tmp = xasprintf("%s.partial-%ld", out, (long)getpid());
	if (backup_recover(pm, d, parent, note, ctx, err) < 0 ||
	    fs_mkdir_private(parent, 0700, err) < 0 || fs_mkdir_private(tmp, 0700, err) < 0) {
		free(idx);
		return -1;
	}
	json_t *stopped = json_array();
	char stamp[32];
	time_t t = time(NULL);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	json_t *m =
	    json_pack("{s:i, s:s, s:s, s:i, s:[], s:[], s:[]}", "format", 1, "created", stamp,
		      "profile", d->prof.name, "revision", revision, "pods", "volumes", "images");
	int rc = 0;
	for (size_t k = 0; k < nidx && rc == 0; k++) {
		const pod *p = &d->pods[idx[k]];
		json_array_append_new(json_object_get(m, "pods"), json_string(p->name));
		json_t *images = image_entries(pm, p);
		json_array_extend(json_object_get(m, "images"), images);
		json_decref(images);
		bool was_up = pod_running(pm, p->pod_name);
		if (was_up) {
			json_array_append_new(stopped, json_string(p->name));
			if (note_stopped(tmp, stopped, err) < 0) {
				rc = -1;
				break;
			}
			notef(note, ctx, "%s: stopping %s for a consistent copy", p->name,
			      p->pod_name);
			double settled = 0;
			if (podman_stop_pod_settled(pm, p->pod_name, STOP_TIMEOUT_S,
						    EXIT_COMMANDS_TIMEOUT_S, &settled, err) < 0) {
				rc = -1;
				break;
			}
			notef(note, ctx, "%s: stopped; Podman's exit commands done %.1f s later",
			      p->name, settled);
		}
		for (size_t v = 0; v < p->nvolumes && rc == 0; v++) {
			const char *vol = p->volumes[v];
			cleanup_free char *file = xasprintf("%s.tar", vol);
			cleanup_free char *path = fs_join(tmp, file);
			json_t *entry = NULL;
			double t0 = now_s();
			rc = export_volume(pm, vol, path, &entry, err);
			if (rc == 0) {
				json_object_set_new(entry, "pod", json_string(p->name));
				json_object_set_new(entry, "file", json_string(file));
				double mib =
				    (double)json_integer_value(json_object_get(entry, "size")) /
				    (1024.0 * 1024.0);
				notef(note, ctx, "%s: %s %.1f MiB in %.1f s", p->name, vol, mib,
				      now_s() - t0);
				json_array_append_new(json_object_get(m, "volumes"), entry);
			}
		}
		if (was_up) {
			/* started again whatever happened to the copy */
			aerr_t serr = {0};
			rollout_pod rs = {0};
			int src = podman_start_pod(pm, p->pod_name, &serr);
			if (src == 0 && gate)
				src = wait_pod_ready(pm, d, idx[k], BACKUP_READY_TIMEOUT_S, &rs,
						     &serr);
			rollout_pod_free(&rs);
			if (src < 0 && rc == 0) {
				aerr_wrap(&serr, "pod %s did not come back after its backup",
					  p->name);
				*err = serr;
				rc = -1;
			} else if (src < 0) {
				notef(note, ctx, "%s: did not come back after its backup: %s",
				      p->name, serr.msg);
			} else {
				notef(note, ctx, "%s: running again", p->name);
				json_array_remove(stopped, json_array_size(stopped) - 1);
				aerr_t ignored = {0};
				note_stopped(tmp, stopped, &ignored);
			}
		}
	}
	free(idx);
	if (rc == 0) {
		cleanup_free char *spath = fs_join(tmp, STOPPED_FILE);
		unlink(spath);
	}
	json_decref(stopped);
	if (rc == 0) {
		cleanup_free char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
		cleanup_free char *mpath = fs_join(tmp, BACKUP_MANIFEST);
		rc = fs_write_atomic(mpath, text, strlen(text), 0600, err);
	}
	if (rc == 0)
		rc = sync_dir(tmp, err);
	if (rc == 0 && rename(tmp, out) < 0)
		rc = aerr_set(err, AEGIS_EFAIL, "cannot rename %s to %s: %s", tmp, out,
			      strerror(errno));
	if (rc == 0)
		rc = sync_dir(parent, err);
	if (rc < 0) {
		remove_tree(tmp);
		json_decref(m);
		return -1;
	}
	if (manifest)
		*manifest = m;
	else
		json_decref(m);
	return 0;
}

int backup_create(podman *pm, const deployment *d, char *const *pods, size_t npods, const char *out,
		  int revision, backup_note_fn note, void *ctx, json_t **manifest, aerr_t *err)
{
	/* a backup of half-restored volumes is no backup: a restore killed
	 * midway is finished first */
	if (backup_resume(pm, d, note, ctx, err) < 0)
		return -1;
	return create_set(pm, d, pods, npods, out, revision, true, note, ctx, manifest, err);
}

/* --- checking ----------------------------------------------------------------- */

/* A file name of the manifest: one plain name inside the backup. */
static bool plain_name(const char *s)
{
	return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/');
}

static int file_sha256(const char *path, char *sum, unsigned long long *size, aerr_t *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return aerr_set(err, AEGIS_EFAIL, "cannot open %s: %s", path, strerror(errno));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	char buf[1 << 16];
	*size = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc =
			    aerr_set(err, AEGIS_EFAIL, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)r);
		*size += (unsigned long long)r;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_DigestFinal_ex(md, d, &n);
	hex(d, n, sum);
	EVP_MD_CTX_free(md);
	close(fd);
	return rc;
}

int backup_verify(const char *dir, json_t **manifest, aerr_t *err)
{
	*manifest = NULL;
	cleanup_free char *mpath = fs_join(dir, BACKUP_MANIFEST);
	json_error_t jerr;
	if (!fs_exists(mpath))
		return aerr_set(err, AEGIS_ECONFIG, "%s: not a backup (no %s)", dir,
				BACKUP_MANIFEST);
	json_t *m = json_load_file(mpath, 0, &jerr);
	if (!m)
		return aerr_set(err, AEGIS_ECONFIG, "%s:%d: %s", mpath, jerr.line, jerr.text);
	json_t *vols = json_object_get(m, "volumes");
	if (json_integer_value(json_object_get(m, "format")) != 1 || !json_is_array(vols) ||
	    json_array_size(vols) == 0) {
		json_decref(m);
		return aerr_set(err, AEGIS_ECONFIG,
				"%s: not a backup manifest of format 1 with volumes", mpath);
	}
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *file = json_string_value(json_object_get(v, "file"));
		const char *pod = json_string_value(json_object_get(v, "pod"));
		const char *want = json_string_value(json_object_get(v, "sha256"));
		json_int_t size = json_integer_value(json_object_get(v, "size"));
		if (!name || !pod || !want || !plain_name(file)) {
			json_decref(m);
			return aerr_set(err, AEGIS_ECONFIG,
					"%s: volume entry %zu lacks name, pod, sha256 or a plain "
					"file name",
					mpath, i + 1);
		}
		cleanup_free char *path = fs_join(dir, file);
		char sum[2 * EVP_MAX_MD_SIZE + 1];
		unsigned long long got = 0;
		if (file_sha256(path, sum, &got, err) < 0) {
			aerr_wrap(err, "backup %s, volume %s", dir, name);
			json_decref(m);
			return -1;
		}
		if (got != (unsigned long long)size || strcmp(sum, want) != 0) {
			aerr_set(err, AEGIS_EFAIL,
				 "%s does not match the backup's manifest (volume %s: %llu bytes, "
				 "sha256 %.12s…; recorded %lld bytes, %.12s…): refusing to restore "
				 "it, nothing was changed",
				 path, name, got, sum, (long long)size, want);
			json_decref(m);
			return -1;
		}
	}
	*manifest = m;
	return 0;
}

/* --- restore ------------------------------------------------------------------ */

/* VOLUME emptied (removed and created again, labelled as ours) and filled
 * from the archive PATH, owners and modes as recorded; tar's messages go to
 * LOG. */
static int import_volume(podman *pm, const char *volume, const char *path, const char *log,
			 aerr_t *err)
{
	cleanup_free char *dir = NULL;
	int rc = podman_volume_remove(pm, volume, err);
	if (rc == 0)
		rc = podman_volume_create(pm, volume, err);
	if (rc == 0)
		rc = volume_dir(pm, volume, &dir, err);
	if (rc == 0) {
		const char *args[] = {"-C", dir, "-xpf", path};
		rc = run_tar(args, 4, log, err);
		unlink(log);
	}
	if (rc < 0)
		return aerr_wrap(err, "volume %s: restore from %s failed", volume, path);
	return 0;
}

#define RESTORE_LOG "restore-tar.log"

/* The restore journal, STATE_DIR/restore-pending.json: {"backup": DIR
 * (absolute), "manifest_sha256", "pods": [...]}, written atomically before
 * a restore changes anything and removed once every volume is refilled. */
static int journal_write(const deployment *d, const char *dir, const json_t *vols,
			 const bool *chosen, aerr_t *err)
{
	cleanup_free char *state = NULL;
	if (state_dir(&d->cfg, &state, err) < 0)
		return -1;
	char *abs = realpath(dir, NULL);
	if (!abs)
		return aerr_set(err, AEGIS_EFAIL, "%s: %s", dir, strerror(errno));
	cleanup_free char *mpath = fs_join(abs, BACKUP_MANIFEST);
	char sum[2 * EVP_MAX_MD_SIZE + 1];
	unsigned long long size = 0;
	if (file_sha256(mpath, sum, &size, err) < 0) {
		free(abs);
		return -1;
	}
	json_t *pods = json_array();
	for (size_t k = 0; k < d->npods; k++) {
		bool listed = false;
		size_t i;
		json_t *v;
		json_array_foreach(vols, i, v) listed =
		    listed ||
		    strcmp(json_string_value(json_object_get(v, "pod")), d->pods[k].name) == 0;
		if (chosen[k] && listed)
			json_array_append_new(pods, json_string(d->pods[k].name));
	}
	json_t *j =
	    json_pack("{s:s, s:s, s:o}", "backup", abs, "manifest_sha256", sum, "pods", pods);
	free(abs);
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	cleanup_free char *path = fs_join(state, RESTORE_JOURNAL);
	return fs_write_atomic(path, text, strlen(text), 0600, err);
}

static void journal_remove(const deployment *d)
{
	cleanup_free char *state = NULL;
	aerr_t ignored = {0};
	if (state_dir(&d->cfg, &state, &ignored) < 0)
		return;
	cleanup_free char *path = fs_join(state, RESTORE_JOURNAL);
	cleanup_free char *log = fs_join(state, RESTORE_LOG);
	unlink(path);
	unlink(log);
	sync_dir(state, &ignored);
}

int backup_restore_volumes(podman *pm, const deployment *d, const char *dir, const json_t *manifest,
			   char *const *pods, size_t npods, backup_note_fn note, void *ctx,
			   json_t **removed, aerr_t *err)
{
	if (removed)
		*removed = NULL;
	json_t *vols = json_object_get(manifest, "volumes");
	/* every pod asked for must be in the backup, every pod of the chosen
	 * volumes in D: checked before anything is touched */
	for (size_t j = 0; j < npods; j++) {
		bool found = false;
		size_t i;
		json_t *v;
		json_array_foreach(vols, i, v) found =
		    found || strcmp(json_string_value(json_object_get(v, "pod")), pods[j]) == 0;
		if (!found)
			return aerr_set(err, AEGIS_ECONFIG, "backup %s holds no volume of pod %s",
					dir, pods[j]);
	}
	bool *chosen = calloc(d->npods ? d->npods : 1, sizeof *chosen);
	if (!chosen)
		abort();
	size_t i;
	json_t *v;
	json_array_foreach(vols, i, v)
	{
		const char *pod = json_string_value(json_object_get(v, "pod"));
		bool want = npods == 0;
		for (size_t j = 0; j < npods; j++)
			want = want || strcmp(pods[j], pod) == 0;
		if (!want)
			continue;
		int k = deployment_pod_index(d, pod);
		if (k < 0) {
			free(chosen);
			return aerr_set(err, AEGIS_ECONFIG,
					"backup %s holds volume %s of pod %s, which profile %s "
					"does not deploy: nothing was changed",
					dir, json_string_value(json_object_get(v, "name")), pod,
					d->prof.name);
		}
		chosen[k] = true;
	}
	/* from here on the volumes are changed: the journal says which, from
	 * where, so that the next command finishes a restore killed midway */
	if (journal_write(d, dir, vols, chosen, err) < 0) {
		free(chosen);
		return -1;
	}
	/* tar's messages: in the state directory under one name (the commands
	 * that restore hold its lock), so that a restore killed during the
	 * copy leaves no file in TMPDIR, and the next one reuses it */
	cleanup_free char *state = NULL;
	cleanup_free char *log = NULL;
	if (state_dir(&d->cfg, &state, err) < 0) {
		free(chosen);
		return -1;
	}
	log = fs_join(state, RESTORE_LOG);
	json_t *gone = json_array();
	int rc = 0;
	/* dependents first */
	for (size_t n = d->npods; n-- > 0 && rc == 0;) {
		if (!chosen[n])
			continue;
		notef(note, ctx, "%s: removing %s (its volumes are replaced)", d->pods[n].name,
		      d->pods[n].pod_name);
		rc = podman_remove_pod(pm, d->pods[n].pod_name, err);
		if (rc == 0)
			json_array_append_new(gone, json_string(d->pods[n].name));
	}
	json_array_foreach(vols, i, v)
	{
		if (rc < 0)
			break;
		const char *pod = json_string_value(json_object_get(v, "pod"));
		int k = deployment_pod_index(d, pod);
		if (k < 0 || !chosen[k])
			continue;
		const char *name = json_string_value(json_object_get(v, "name"));
		cleanup_free char *path =
		    fs_join(dir, json_string_value(json_object_get(v, "file")));
		double t0 = now_s();
		rc = import_volume(pm, name, path, log, err);
		if (rc == 0)
			notef(note, ctx, "%s: %s restored in %.1f s", pod, name, now_s() - t0);
	}
	free(chosen);
	if (rc == 0)
		journal_remove(d);
	if (removed)
		*removed = gone;
	else
		json_decref(gone);
	return rc;
}

int backup_resume(podman *pm, const deployment *d, backup_note_fn note, void *ctx, aerr_t *err)
{
	cleanup_free char *state = NULL;
	if (state_dir(&d->cfg, &state, err) < 0)
		return -1;
	cleanup_free char *path = fs_join(state, RESTORE_JOURNAL);
	if (!fs_exists(path))
		return 0;
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	const char *dir = json_string_value(json_object_get(j, "backup"));
	const char *want = json_string_value(json_object_get(j, "manifest_sha256"));
	json_t *list = json_object_get(j, "pods");
	char *pods[64];
	size_t n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) if (json_is_string(v) && n < 64) pods[n++] =
	    (char *)json_string_value(v);
	json_t *manifest = NULL;
	int rc = 0;
	if (!dir || !want || n == 0) {
		rc = aerr_set(err, AEGIS_ECONFIG, "%s:%d: not a restore journal (%s)", path,
			      j ? 0 : jerr.line,
			      j ? "no backup, manifest_sha256 or pods" : jerr.text);
	} else {
		cleanup_free char *mpath = fs_join(dir, BACKUP_MANIFEST);
		char sum[2 * EVP_MAX_MD_SIZE + 1];
		unsigned long long size = 0;
		rc = file_sha256(mpath, sum, &size, err);
		if (rc == 0 && strcmp(sum, want) != 0)
			rc = aerr_set(err, AEGIS_EFAIL,
				      "%s: SHA-256 %.12s…, the restore began with %.12s…", mpath,
				      sum, want);
		if (rc == 0)
			rc = backup_verify(dir, &manifest, err);
		if (rc == 0) {
			strbuf names = STRBUF_INIT;
			for (size_t k = 0; k < n; k++)
				sb_addf(&names, "%s%s", k ? ", " : "", pods[k]);
			notef(note, ctx,
			      "finishing the restore of %s from %s, which a killed command left "
			      "unfinished (%s)",
			      names.s, dir, path);
			sb_release(&names);
			rc = backup_restore_volumes(pm, d, dir, manifest, pods, n, note, ctx, NULL,
						    err);
		}
	}
	if (rc < 0)
		aerr_wrap(err,
			  "a restore of volumes was killed midway (%s) and cannot be finished "
			  "(restore a backup, or remove that file to go on with the volumes as "
			  "they are)",
			  path);
	json_decref(manifest);
	json_decref(j);
	return rc;
}

/* --- snapshots ------------------------------------------------------------------ */

/* Running with every container up and the manifest it would be played
 * with: what the rollout keeps (lib/rollout/rollout.c, pod_unchanged). */
static bool pod_kept(podman *pm, const pod *p)
{
	if (!p->manifest_hash)
		return false;
	json_t *js = NULL;
	aerr_t ignored = {0};
	if (podman_inspect_pod(pm, p->pod_name, &js, &ignored) < 0 || !js)
		return false;
	const char *label =
	    json_string_value(json_object_get(json_object_get(js, "Labels"), MANIFEST_HASH_LABEL));
	const char *state = json_string_value(json_object_get(js, "State"));
	bool same =
	    label && strcmp(label, p->manifest_hash) == 0 && state && strcmp(state, "Running") == 0;
	json_decref(js);
	return same;
}

size_t snapshot_select(podman *pm, const deployment *d, const bool *selected, bool replace,
		       bool **want)
{
	*want = calloc(d->npods ? d->npods : 1, sizeof **want);
	if (!*want)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < d->npods; i++) {
		const pod *p = &d->pods[i];
		if ((selected && !selected[i]) || p->nvolumes == 0)
			continue;
		bool data = false;
		for (size_t v = 0; v < p->nvolumes && !data; v++) {
			aerr_t ignored = {0};
			bool exists = false;
			data = podman_volume_exists(pm, p->volumes[v], &exists, &ignored) == 0 &&
			       exists;
		}
		if (!data || (!replace && pod_kept(pm, p)))
			continue;
		(*want)[i] = true;
		n++;
	}
	return n;
}

int snapshot_take(podman *pm, const deployment *d, const char *state_dir, const bool *want,
		  int revision, backup_note_fn note, void *ctx, json_t **record, aerr_t *err)
{
	*record = NULL;
	char **names = calloc(d->npods ? d->npods : 1, sizeof *names);
	if (!names)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < d->npods; i++)
		if (want[i])
			names[n++] = d->pods[i].name;
	if (n == 0) {
		free(names);
		return 0;
	}
	/* ids sort by time: retention keeps the last ones */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime(&ts.tv_sec));
	char *id = xasprintf("%s.%06ldZ", stamp, (long)(ts.tv_nsec / 1000));
	char *top = fs_join(state_dir, SNAPSHOT_DIR);
	char *dir = fs_join(top, id);
	json_t *m = NULL;
	int rc = fs_mkdir_private(top, 0700, err);
	if (rc == 0)
		rc = create_set(pm, d, names, n, dir, revision, false, note, ctx, &m, err);
	char sum[2 * EVP_MAX_MD_SIZE + 1];
	unsigned long long msize = 0;
	if (rc == 0) {
		cleanup_free char *mpath = fs_join(dir, BACKUP_MANIFEST);
		rc = file_sha256(mpath, sum, &msize, err);
	}
	if (rc == 0) {
		json_int_t bytes = (json_int_t)msize;
		json_t *pods = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(m, "volumes"), i, v) bytes +=
		    json_integer_value(json_object_get(v, "size"));
		json_array_foreach(json_object_get(m, "pods"), i, v) json_array_append(pods, v);
		*record = json_pack("{s:s, s:s, s:s, s:I, s:o, s:i}", "id", id, "path", dir,
				    "manifest_sha256", sum, "bytes", bytes, "pods", pods,
				    "revision", revision);
	}
	json_decref(m);
	free(id);
	free(dir);
	free(top);
	free(names);
	return rc;
}

int snapshot_check(const json_t *record, json_t **manifest, char **dir, aerr_t *err)
{
	*manifest = NULL;
	*dir = NULL;
	const char *path = json_string_value(json_object_get(record, "path"));
	const char *id = json_string_value(json_object_get(record, "id"));
	const char *want = json_string_value(json_object_get(record, "manifest_sha256"));
	if (!path || !id || !want)
		return aerr_set(err, AEGIS_ECONFIG,
				"the revision's snapshot record lacks its id, path or checksum");
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return aerr_set(err, AEGIS_ECONFIG,
				"snapshot %s is no longer on disk (%s): removed by retention "
				"(%s) or by hand",
				id, path, SNAPSHOT_KEEP_VAR);
	cleanup_free char *mpath = fs_join(path, BACKUP_MANIFEST);
	char sum[2 * EVP_MAX_MD_SIZE + 1];
	unsigned long long size = 0;
	if (file_sha256(mpath, sum, &size, err) < 0)
		return aerr_wrap(err, "snapshot %s", id);
	if (strcmp(sum, want) != 0)
		return aerr_set(err, AEGIS_EFAIL,
				"%s: SHA-256 %.12s…, the revision recorded %.12s…: the snapshot "
				"was changed, refusing to restore it (nothing was changed)",
				mpath, sum, want);
	if (backup_verify(path, manifest, err) < 0)
		return -1;
	*dir = xasprintf("%s", path);
	return 0;
}

int snapshot_keep(const config *cfg, int *keep, aerr_t *err)
{
	const char *s = config_get(cfg, SNAPSHOT_KEEP_VAR);
	*keep = SNAPSHOT_KEEP_DEFAULT;
	if (!s || !*s)
		return 0;
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 1000) {
		const config_value *cv = config_find(cfg, SNAPSHOT_KEEP_VAR);
		if (cv && cv->source == SRC_FILE)
			return aerr_set(err, AEGIS_ECONFIG,
					"%s:%d: %s='%s': how many snapshots to keep, a whole "
					"number from 1 to 1000",
					cfg->env_path, cv->line, SNAPSHOT_KEEP_VAR, s);
		return aerr_set(err, AEGIS_ECONFIG,
				"%s='%s': how many snapshots to keep, a whole number from 1 "
				"to 1000",
				SNAPSHOT_KEEP_VAR, s);
	}
	*keep = (int)v;
	return 0;
}

static char *snapshot_name(const char *dir, const char *name)
{
	cleanup_free char *path = fs_join(dir, name);
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return xasprintf("%s", name);
}

int snapshot_prune(const char *state_dir, int keep, json_t **removed, aerr_t *err)
{
	if (removed)
		*removed = json_array();
	cleanup_free char *top = fs_join(state_dir, SNAPSHOT_DIR);
	if (!fs_exists(top))
		return 0;
	char **names = NULL;
	size_t n = 0;
	if (fs_list_dir(top, snapshot_name, &names, &n, err) < 0)
		return -1;
	size_t complete = 0;
	for (size_t i = 0; i < n; i++)
		complete += strstr(names[i], ".partial-") == NULL;
	size_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		bool partial = strstr(names[i], ".partial-") != NULL;
		if (!partial && complete - seen++ <= (size_t)keep)
			continue;
		cleanup_free char *path = fs_join(top, names[i]);
		remove_tree(path);
		if (removed && !partial)
			json_array_append_new(*removed, json_string(names[i]));
	}
	strv_free(names, n);
	return 0;
}

json_t *snapshot_usage(const char *state_dir)
{
	cleanup_free char *top = fs_join(state_dir, SNAPSHOT_DIR);
	json_t *items = json_object();
	json_int_t total = 0;
	char **names = NULL;
	size_t n = 0;
	aerr_t ignored = {0};
	if (fs_exists(top) && fs_list_dir(top, snapshot_name, &names, &n, &ignored) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strstr(names[i], ".partial-"))
				continue;
			cleanup_free char *dir = fs_join(top, names[i]);
			char **files = NULL;
			size_t nf = 0;
			json_int_t bytes = 0;
			if (fs_list_dir(dir, any_name, &files, &nf, &ignored) == 0) {
				for (size_t k = 0; k < nf; k++) {
					cleanup_free char *f = fs_join(dir, files[k]);
					struct stat st;
					if (lstat(f, &st) == 0)
						bytes += (json_int_t)st.st_size;
				}
				strv_free(files, nf);
			}
			json_object_set_new(items, names[i], json_integer(bytes));
			total += bytes;
		}
		strv_free(names, n);
	}
	return json_pack("{s:s, s:I, s:I, s:o}", "path", top, "count",
			 (json_int_t)json_object_size(items), "bytes", total, "items", items);
}
