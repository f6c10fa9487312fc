/* libcurl and libgit2, loaded when a command first calls them: render, plan,
 * config and the other commands that never talk HTTP or touch the release
 * history no longer pay, at every start, for loading and relocating these
 * two libraries and the ~30 libraries they pull in (GnuTLS, Kerberos, LDAP,
 * libssh2, mbedTLS, ...): about 60 % of the process start-up on the 2-core
 * build machine (docs/benchmarks.md).  The binary is linked without them
 * (Makefile); each function the program uses is defined here with the
 * library's own prototype (the compiler checks it against the header), and
 * forwards to the real one, looked up once with dlsym.
 *
 * curl_easy_setopt and curl_easy_getinfo are variadic: the option's number
 * says the type of its one argument (curl.h: CURLOPTTYPE_LONG 0,
 * OBJECTPOINT 10000, FUNCTIONPOINT 20000, OFF_T 30000, BLOB 40000;
 * getinfo always takes a pointer), so each is read and passed on with
 * that type. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <git2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef AEGIS_LIBCURL_SONAME
#define AEGIS_LIBCURL_SONAME "libcurl.so.4"
#endif
#ifndef AEGIS_LIBGIT2_SONAME
#define AEGIS_LIBGIT2_SONAME "libgit2.so.1.5"
#endif

enum { LAZY_CURL, LAZY_GIT2 };

static const char *const sonames[] = {AEGIS_LIBCURL_SONAME, AEGIS_LIBGIT2_SONAME};
static void *handles[2];
static pthread_once_t once[2] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

static void open_curl(void)
{
	handles[LAZY_CURL] = dlopen(sonames[LAZY_CURL], RTLD_NOW | RTLD_LOCAL);
}

static void open_git2(void)
{
	handles[LAZY_GIT2] = dlopen(sonames[LAZY_GIT2], RTLD_NOW | RTLD_LOCAL);
}

/* The address of NAME in library LIB, cached in *CACHE.  A library or a
 * symbol that is missing ends the program (status 2): it was there when
 * the binary was built, so the installation is broken. */
static void *lazy_sym(int lib, const char *name, void **cache)
{
	void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
	if (f)
		return f;
	pthread_once(&once[lib], lib == LAZY_CURL ? open_curl : open_git2);
	if (!handles[lib]) {
		fprintf(stderr, "aegis-deploy: cannot load %s: %s (install it: make setup)\n",
			sonames[lib], dlerror());
		exit(2);
	}
	f = dlsym(handles[lib], name);
	if (!f) {
		fprintf(stderr, "aegis-deploy: %s has no %s: %s\n", sonames[lib], name, dlerror());
		exit(2);
	}
	__atomic_store_n(cache, f, __ATOMIC_RELEASE);
	return f;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	static void *cache;
	__typeof__(&curl_easy_setopt) f = lazy_sym(LAZY_CURL, "curl_easy_setopt", &cache);
	va_list ap;
	va_start(ap, option);
	CURLcode rc;
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		rc = f(curl, option, v);
	} else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		void *v = va_arg(ap, void *);
		rc = f(curl, option, v);
	} else if (option < CURLOPTTYPE_OFF_T) {
		void (*v)(void) = va_arg(ap, void (*)(void));
		rc = f(curl, option, v);
	} else if (option < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		rc = f(curl, option, v);
	} else {
		void *v = va_arg(ap, void *);
		rc = f(curl, option, v);
	}
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	static void *cache;
	__typeof__(&curl_easy_getinfo) f = lazy_sym(LAZY_CURL, "curl_easy_getinfo", &cache);
	va_list ap;
	va_start(ap, info);
	void *v = va_arg(ap, void *);
	va_end(ap);
	return f(curl, info, v);
}

void curl_easy_cleanup(CURL *curl)
{
	static void *cache;
	((__typeof__(&curl_easy_cleanup))lazy_sym(LAZY_CURL, "curl_easy_cleanup", &cache))(curl);
}

CURL *curl_easy_init(void)
{
	static void *cache;
	return ((__typeof__(&curl_easy_init))lazy_sym(LAZY_CURL, "curl_easy_init", &cache))();
}

CURLcode curl_easy_perform(CURL *curl)
{
	static void *cache;
	return ((__typeof__(&curl_easy_perform))lazy_sym(LAZY_CURL, "curl_easy_perform", &cache))(
	    curl);
}

void curl_easy_reset(CURL *curl)
{
	static void *cache;
	((__typeof__(&curl_easy_reset))lazy_sym(LAZY_CURL, "curl_easy_reset", &cache))(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
	static void *cache;
	return ((__typeof__(&curl_easy_strerror))lazy_sym(LAZY_CURL, "curl_easy_strerror", &cache))(
	    code);
}

void curl_free(void *p)
{
	static void *cache;
	((__typeof__(&curl_free))lazy_sym(LAZY_CURL, "curl_free", &cache))(p);
}

CURLcode curl_global_init(long flags)
{
	static void *cache;
	return ((__typeof__(&curl_global_init))lazy_sym(LAZY_CURL, "curl_global_init", &cache))(
	    flags);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	static void *cache;
	return ((__typeof__(&curl_slist_append))lazy_sym(LAZY_CURL, "curl_slist_append", &cache))(
	    list, data);
}

void curl_slist_free_all(struct curl_slist *list)
{
	static void *cache;
	((__typeof__(&curl_slist_free_all))lazy_sym(LAZY_CURL, "curl_slist_free_all", &cache))(
	    list);
}

CURLU *curl_url(void)
{
	static void *cache;
	return ((__typeof__(&curl_url))lazy_sym(LAZY_CURL, "curl_url", &cache))();
}

void curl_url_cleanup(CURLU *handle)
{
	static void *cache;
	((__typeof__(&curl_url_cleanup))lazy_sym(LAZY_CURL, "curl_url_cleanup", &cache))(handle);
}

CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
	static void *cache;
	return ((__typeof__(&curl_url_get))lazy_sym(LAZY_CURL, "curl_url_get", &cache))(
	    handle, what, part, flags);
}

CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
	static void *cache;
	return ((__typeof__(&curl_url_set))lazy_sym(LAZY_CURL, "curl_url_set", &cache))(
	    handle, what, part, flags);
}

int git_blob_create_from_buffer(git_oid *id, git_repository *repo, const void *buffer, size_t len)
{
	static void *cache;
	return ((__typeof__(&git_blob_create_from_buffer))lazy_sym(
	    LAZY_GIT2, "git_blob_create_from_buffer", &cache))(id, repo, buffer, len);
}

void git_blob_free(git_blob *blob)
{
	static void *cache;
	((__typeof__(&git_blob_free))lazy_sym(LAZY_GIT2, "git_blob_free", &cache))(blob);
}

int git_blob_lookup(git_blob **blob, git_repository *repo, const git_oid *id)
{
	static void *cache;
	return ((__typeof__(&git_blob_lookup))lazy_sym(LAZY_GIT2, "git_blob_lookup", &cache))(
	    blob, repo, id);
}

const void *git_blob_rawcontent(const git_blob *blob)
{
	static void *cache;
	return ((__typeof__(&git_blob_rawcontent))lazy_sym(LAZY_GIT2, "git_blob_rawcontent",
							   &cache))(blob);
}

git_object_size_t git_blob_rawsize(const git_blob *blob)
{
	static void *cache;
	return ((__typeof__(&git_blob_rawsize))lazy_sym(LAZY_GIT2, "git_blob_rawsize", &cache))(
	    blob);
}

void git_buf_dispose(git_buf *buffer)
{
	static void *cache;
	((__typeof__(&git_buf_dispose))lazy_sym(LAZY_GIT2, "git_buf_dispose", &cache))(buffer);
}

int git_commit_create(git_oid *id, git_repository *repo, const char *update_ref,
		      const git_signature *author, const git_signature *committer,
		      const char *message_encoding, const char *message, const git_tree *tree,
		      size_t parent_count, const git_commit *parents[])
{
	static void *cache;
	return ((__typeof__(&git_commit_create))lazy_sym(LAZY_GIT2, "git_commit_create", &cache))(
	    id, repo, update_ref, author, committer, message_encoding, message, tree, parent_count,
	    parents);
}

void git_commit_free(git_commit *commit)
{
	static void *cache;
	((__typeof__(&git_commit_free))lazy_sym(LAZY_GIT2, "git_commit_free", &cache))(commit);
}

const git_oid *git_commit_id(const git_commit *commit)
{
	static void *cache;
	return ((__typeof__(&git_commit_id))lazy_sym(LAZY_GIT2, "git_commit_id", &cache))(commit);
}

int git_commit_lookup(git_commit **commit, git_repository *repo, const git_oid *id)
{
	static void *cache;
	return ((__typeof__(&git_commit_lookup))lazy_sym(LAZY_GIT2, "git_commit_lookup", &cache))(
	    commit, repo, id);
}

const char *git_commit_message(const git_commit *commit)
{
	static void *cache;
	return ((__typeof__(&git_commit_message))lazy_sym(LAZY_GIT2, "git_commit_message", &cache))(
	    commit);
}

git_repository *git_commit_owner(const git_commit *commit)
{
	static void *cache;
	return ((__typeof__(&git_commit_owner))lazy_sym(LAZY_GIT2, "git_commit_owner", &cache))(
	    commit);
}

int git_commit_parent(git_commit **out, const git_commit *commit, unsigned int n)
{
	static void *cache;
	return ((__typeof__(&git_commit_parent))lazy_sym(LAZY_GIT2, "git_commit_parent", &cache))(
	    out, commit, n);
}

unsigned int git_commit_parentcount(const git_commit *commit)
{
	static void *cache;
	return ((__typeof__(&git_commit_parentcount))lazy_sym(LAZY_GIT2, "git_commit_parentcount",
							      &cache))(commit);
}

int git_commit_tree(git_tree **tree_out, const git_commit *commit)
{
	static void *cache;
	return ((__typeof__(&git_commit_tree))lazy_sym(LAZY_GIT2, "git_commit_tree", &cache))(
	    tree_out, commit);
}

const git_error *git_error_last(void)
{
	static void *cache;
	return ((__typeof__(&git_error_last))lazy_sym(LAZY_GIT2, "git_error_last", &cache))();
}

int git_libgit2_init(void)
{
	static void *cache;
	return ((__typeof__(&git_libgit2_init))lazy_sym(LAZY_GIT2, "git_libgit2_init", &cache))();
}

int git_libgit2_shutdown(void)
{
	static void *cache;
	return ((__typeof__(&git_libgit2_shutdown))lazy_sym(LAZY_GIT2, "git_libgit2_shutdown",
							    &cache))();
}

char *git_oid_tostr(char *out, size_t n, const git_oid *id)
{
	static void *cache;
	return ((__typeof__(&git_oid_tostr))lazy_sym(LAZY_GIT2, "git_oid_tostr", &cache))(out, n,
											  id);
}

void git_patch_free(git_patch *patch)
{
	static void *cache;
	((__typeof__(&git_patch_free))lazy_sym(LAZY_GIT2, "git_patch_free", &cache))(patch);
}

int git_patch_from_buffers(git_patch **out, const void *old_buffer, size_t old_len,
			   const char *old_as_path, const void *new_buffer, size_t new_len,
			   const char *new_as_path, const git_diff_options *opts)
{
	static void *cache;
	return ((__typeof__(&git_patch_from_buffers))lazy_sym(
	    LAZY_GIT2, "git_patch_from_buffers", &cache))(out, old_buffer, old_len, old_as_path,
							  new_buffer, new_len, new_as_path, opts);
}

int git_patch_to_buf(git_buf *out, git_patch *patch)
{
	static void *cache;
	return ((__typeof__(&git_patch_to_buf))lazy_sym(LAZY_GIT2, "git_patch_to_buf", &cache))(
	    out, patch);
}

int git_reference_name_to_id(git_oid *out, git_repository *repo, const char *name)
{
	static void *cache;
	return ((__typeof__(&git_reference_name_to_id))lazy_sym(
	    LAZY_GIT2, "git_reference_name_to_id", &cache))(out, repo, name);
}

void git_repository_free(git_repository *repo)
{
	static void *cache;
	((__typeof__(&git_repository_free))lazy_sym(LAZY_GIT2, "git_repository_free", &cache))(
	    repo);
}

int git_repository_init(git_repository **out, const char *path, unsigned is_bare)
{
	static void *cache;
	return ((__typeof__(&git_repository_init))lazy_sym(LAZY_GIT2, "git_repository_init",
							   &cache))(out, path, is_bare);
}

int git_repository_open_bare(git_repository **out, const char *bare_path)
{
	static void *cache;
	return ((__typeof__(&git_repository_open_bare))lazy_sym(
	    LAZY_GIT2, "git_repository_open_bare", &cache))(out, bare_path);
}

int git_repository_open_ext(git_repository **out, const char *path, unsigned int flags,
			    const char *ceiling_dirs)
{
	static void *cache;
	return ((__typeof__(&git_repository_open_ext))lazy_sym(
	    LAZY_GIT2, "git_repository_open_ext", &cache))(out, path, flags, ceiling_dirs);
}

void git_signature_free(git_signature *sig)
{
	static void *cache;
	((__typeof__(&git_signature_free))lazy_sym(LAZY_GIT2, "git_signature_free", &cache))(sig);
}

int git_signature_now(git_signature **out, const char *name, const char *email)
{
	static void *cache;
	return ((__typeof__(&git_signature_now))lazy_sym(LAZY_GIT2, "git_signature_now", &cache))(
	    out, name, email);
}

size_t git_status_list_entrycount(git_status_list *statuslist)
{
	static void *cache;
	return ((__typeof__(&git_status_list_entrycount))lazy_sym(
	    LAZY_GIT2, "git_status_list_entrycount", &cache))(statuslist);
}

void git_status_list_free(git_status_list *statuslist)
{
	static void *cache;
	((__typeof__(&git_status_list_free))lazy_sym(LAZY_GIT2, "git_status_list_free", &cache))(
	    statuslist);
}

int git_status_list_new(git_status_list **out, git_repository *repo, const git_status_options *opts)
{
	static void *cache;
	return ((__typeof__(&git_status_list_new))lazy_sym(LAZY_GIT2, "git_status_list_new",
							   &cache))(out, repo, opts);
}

int git_tree_entry_bypath(git_tree_entry **out, const git_tree *root, const char *path)
{
	static void *cache;
	return ((__typeof__(&git_tree_entry_bypath))lazy_sym(LAZY_GIT2, "git_tree_entry_bypath",
							     &cache))(out, root, path);
}

void git_tree_entry_free(git_tree_entry *entry)
{
	static void *cache;
	((__typeof__(&git_tree_entry_free))lazy_sym(LAZY_GIT2, "git_tree_entry_free", &cache))(
	    entry);
}

const git_oid *git_tree_entry_id(const git_tree_entry *entry)
{
	static void *cache;
	return ((__typeof__(&git_tree_entry_id))lazy_sym(LAZY_GIT2, "git_tree_entry_id", &cache))(
	    entry);
}

const char *git_tree_entry_name(const git_tree_entry *entry)
{
	static void *cache;
	return ((__typeof__(&git_tree_entry_name))lazy_sym(LAZY_GIT2, "git_tree_entry_name",
							   &cache))(entry);
}

git_object_t git_tree_entry_type(const git_tree_entry *entry)
{
	static void *cache;
	return ((__typeof__(&git_tree_entry_type))lazy_sym(LAZY_GIT2, "git_tree_entry_type",
							   &cache))(entry);
}

void git_tree_free(git_tree *tree)
{
	static void *cache;
	((__typeof__(&git_tree_free))lazy_sym(LAZY_GIT2, "git_tree_free", &cache))(tree);
}

int git_tree_lookup(git_tree **out, git_repository *repo, const git_oid *id)
{
	static void *cache;
	return ((__typeof__(&git_tree_lookup))lazy_sym(LAZY_GIT2, "git_tree_lookup", &cache))(
	    out, repo, id);
}

int git_tree_walk(const git_tree *tree, git_treewalk_mode mode, git_treewalk_cb callback,
		  void *payload)
{
	static void *cache;
	return ((__typeof__(&git_tree_walk))lazy_sym(LAZY_GIT2, "git_tree_walk", &cache))(
	    tree, mode, callback, payload);
}

void git_treebuilder_free(git_treebuilder *bld)
{
	static void *cache;
	((__typeof__(&git_treebuilder_free))lazy_sym(LAZY_GIT2, "git_treebuilder_free", &cache))(
	    bld);
}

int git_treebuilder_insert(const git_tree_entry **out, git_treebuilder *bld, const char *filename,
			   const git_oid *id, git_filemode_t filemode)
{
	static void *cache;
	return ((__typeof__(&git_treebuilder_insert))lazy_sym(
	    LAZY_GIT2, "git_treebuilder_insert", &cache))(out, bld, filename, id, filemode);
}

int git_treebuilder_new(git_treebuilder **out, git_repository *repo, const git_tree *source)
{
	static void *cache;
	return ((__typeof__(&git_treebuilder_new))lazy_sym(LAZY_GIT2, "git_treebuilder_new",
							   &cache))(out, repo, source);
}

int git_treebuilder_write(git_oid *id, git_treebuilder *bld)
{
	static void *cache;
	return ((__typeof__(&git_treebuilder_write))lazy_sym(LAZY_GIT2, "git_treebuilder_write",
							     &cache))(id, bld);
}
