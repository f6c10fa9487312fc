#include "podman/pod.h"

#include "render/render.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "util/yamldoc.h"

/* Kubernetes probe defaults (core/v1 Probe) */
#define PROBE_DEFAULT_PERIOD_S 10
#define PROBE_DEFAULT_TIMEOUT_S 1
#define PROBE_DEFAULT_FAILURE_THRESHOLD 3

struct reader {
	const char *source;
	yaml_document_t *doc;
	aerr_t *err;
};

static yaml_node_t *get(const struct reader *r, yaml_node_t *map, const char *key)
{
	return ydoc_get(r->doc, map, key);
}

static const char *get_str(const struct reader *r, yaml_node_t *map, const char *key)
{
	return ydoc_str(ydoc_get(r->doc, map, key));
}

static size_t seq_len(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(const struct reader *r, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(r->doc, n->data.sequence.items.start[i]);
}

/* A sequence (or absent) at FIELD; anything else is an error. */
static int want_seq(const struct reader *r, const yaml_node_t *n, const char *field)
{
	if (n && n->type != YAML_SEQUENCE_NODE)
		return aerr_set(r->err, AEGIS_ECONFIG, "%s: %s: expected a list", r->source, field);
	return 0;
}

static bool parse_int(const char *s, int *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < INT_MIN || v > INT_MAX)
		return false;
	*out = (int)v;
	return true;
}

/* The integer at MAP.KEY, DEFLT when absent. */
static int get_int(const struct reader *r, yaml_node_t *map, const char *key, int deflt,
		   const char *field, int *out)
{
	yaml_node_t *n = get(r, map, key);
	if (!n) {
		*out = deflt;
		return 0;
	}
	const char *s = ydoc_str(n);
	if (!parse_int(s, out))
		return aerr_set(r->err, AEGIS_ECONFIG, "%s: %s.%s: expected an integer, got \"%s\"",
				r->source, field, key, s ? s : "(not a scalar)");
	return 0;
}

static bool unresolved(const char *s)
{
	return s && strstr(s, "${");
}

static void strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

/* A comma-separated annotation KEY into V, blanks around items dropped. */
static int read_list(const struct reader *r, yaml_node_t *meta, const char *key, char ***v,
		     size_t *n)
{
	const char *list = get_str(r, get(r, meta, "annotations"), key);
	if (!list)
		return 0;
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *b = p, *e = end;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (e > b) {
			cleanup_free char *name = xstrndup(b, (size_t)(e - b));
			strv_push(v, n, name);
		}
		p = comma ? comma + 1 : end;
	}
	return 0;
}

/* The network aliases: the comma list of POD_ALIASES_ANNOTATION, then one
 * hostname per annotation named POD_ALIAS_ANNOTATION_PREFIX + anything
 * (Podman 4.3 refuses an annotation value over 63 characters, which a list
 * of public hostnames soon is); empty values are skipped. */
static int read_aliases(const struct reader *r, yaml_node_t *meta, pod *out)
{
	if (read_list(r, meta, POD_ALIASES_ANNOTATION, &out->aliases, &out->naliases) < 0)
		return -1;
	yaml_node_t *ann = get(r, meta, "annotations");
	if (!ann || ann->type != YAML_MAPPING_NODE)
		return 0;
	size_t plen = strlen(POD_ALIAS_ANNOTATION_PREFIX);
	for (yaml_node_pair_t *pr = ann->data.mapping.pairs.start; pr < ann->data.mapping.pairs.top;
	     pr++) {
		const char *k = ydoc_str(yaml_document_get_node(r->doc, pr->key));
		const char *v = ydoc_str(yaml_document_get_node(r->doc, pr->value));
		if (k && v && *v && strncmp(k, POD_ALIAS_ANNOTATION_PREFIX, plen) == 0)
			strv_push(&out->aliases, &out->naliases, v);
	}
	return 0;
}

/* A port published on every address (no hostIP, 0.0.0.0, ::) is probed on
 * loopback; one published on a single address only answers there. */
static void probe_host_for(const char *host_ip, char *buf, size_t size)
{
	if (!*host_ip || strcmp(host_ip, "0.0.0.0") == 0)
		snprintf(buf, size, "127.0.0.1");
	else if (strcmp(host_ip, "::") == 0)
		snprintf(buf, size, "::1");
	else
		snprintf(buf, size, "%s", host_ip);
}

static int read_ports(const struct reader *r, yaml_node_t *ctr, const char *field, pod *out)
{
	yaml_node_t *ports = get(r, ctr, "ports");
	if (want_seq(r, ports, field) < 0)
		return -1;
	for (size_t i = 0; i < seq_len(ports); i++) {
		yaml_node_t *p = seq_at(r, ports, i);
		cleanup_free char *pf = xasprintf("%s.ports[%zu]", field, i);
		port_map pm = {0};
		if (get_int(r, p, "containerPort", 0, pf, &pm.container_port) < 0)
			return -1;
		const char *host = get_str(r, p, "hostPort");
		/* plan and status render leniently: an unset ${VAR} host port is
		 * "not published" rather than an error */
		if (!unresolved(host) && get_int(r, p, "hostPort", 0, pf, &pm.host_port) < 0)
			return -1;
		const char *ip = get_str(r, p, "hostIP");
		pm.host_ip = xstrdup(ip && !unresolved(ip) ? ip : "");
		const char *proto = get_str(r, p, "protocol");
		pm.protocol = xstrdup(proto ? proto : "TCP");
		out->ports = xrealloc(out->ports, (out->nports + 1) * sizeof *out->ports);
		out->ports[out->nports++] = pm;
	}
	return 0;
}

/* A probe port: an integer or the name of one of the container's ports. */
static int probe_port(const struct reader *r, yaml_node_t *ctr, yaml_node_t *action,
		      const char *field, int *out)
{
	const char *s = get_str(r, action, "port");
	if (parse_int(s, out))
		return 0;
	yaml_node_t *ports = get(r, ctr, "ports");
	for (size_t i = 0; s && i < seq_len(ports); i++) {
		yaml_node_t *p = seq_at(r, ports, i);
		const char *name = get_str(r, p, "name");
		if (name && strcmp(name, s) == 0 && parse_int(get_str(r, p, "containerPort"), out))
			return 0;
	}
	return aerr_set(r->err, AEGIS_ECONFIG,
			"%s: %s.port: expected a port number or the name of a container port, got "
			"\"%s\"",
			r->source, field, s ? s : "(none)");
}

static int read_probe(const struct reader *r, yaml_node_t *ctr, const char *cfield, probe *out)
{
	const char *key = "readinessProbe";
	yaml_node_t *n = get(r, ctr, key);
	if (!n) {
		key = "livenessProbe";
		n = get(r, ctr, key);
	}
	if (!n)
		return 0;
	cleanup_free char *field = xasprintf("%s.%s", cfield, key);
	yaml_node_t *action;
	if ((action = get(r, n, "httpGet"))) {
		cleanup_free char *af = xasprintf("%s.httpGet", field);
		out->kind = PROBE_HTTP;
		const char *path = get_str(r, action, "path");
		out->path = xstrdup(path ? path : "/");
		if (probe_port(r, ctr, action, af, &out->port) < 0)
			return -1;
	} else if ((action = get(r, n, "tcpSocket"))) {
		cleanup_free char *af = xasprintf("%s.tcpSocket", field);
		out->kind = PROBE_TCP;
		if (probe_port(r, ctr, action, af, &out->port) < 0)
			return -1;
	} else if ((action = get(r, n, "exec"))) {
		yaml_node_t *cmd = get(r, action, "command");
		size_t n_args = seq_len(cmd);
		if (!n_args)
			return aerr_set(r->err, AEGIS_ECONFIG,
					"%s: %s.exec.command: expected a list", r->source, field);
		out->kind = PROBE_EXEC;
		out->command = xcalloc(n_args + 1, sizeof *out->command);
		for (size_t i = 0; i < n_args; i++) {
			const char *arg = ydoc_str(seq_at(r, cmd, i));
			if (!arg)
				return aerr_set(r->err, AEGIS_ECONFIG,
						"%s: %s.exec.command[%zu]: expected a string",
						r->source, field, i);
			out->command[out->ncommand++] = xstrdup(arg);
		}
	} else {
		return aerr_set(r->err, AEGIS_ECONFIG,
				"%s: %s: expected httpGet, tcpSocket or exec", r->source, field);
	}
	if (get_int(r, n, "initialDelaySeconds", 0, field, &out->initial_delay_s) < 0 ||
	    get_int(r, n, "periodSeconds", PROBE_DEFAULT_PERIOD_S, field, &out->period_s) < 0 ||
	    get_int(r, n, "timeoutSeconds", PROBE_DEFAULT_TIMEOUT_S, field, &out->timeout_s) < 0 ||
	    get_int(r, n, "failureThreshold", PROBE_DEFAULT_FAILURE_THRESHOLD, field,
		    &out->failure_threshold) < 0)
		return -1;
	return 0;
}

static int read_containers(const struct reader *r, yaml_node_t *spec, pod *out)
{
	yaml_node_t *ctrs = get(r, spec, "containers");
	if (want_seq(r, ctrs, "spec.containers") < 0)
		return -1;
	size_t n = seq_len(ctrs);
	if (!n)
		return aerr_set(r->err, AEGIS_ECONFIG, "%s: spec.containers: no containers",
				r->source);
	out->containers = xcalloc(n, sizeof *out->containers);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *ctr = seq_at(r, ctrs, i);
		cleanup_free char *field = xasprintf("spec.containers[%zu]", i);
		container *c = &out->containers[out->ncontainers++];
		const char *name = get_str(r, ctr, "name");
		if (!name)
			return aerr_set(r->err, AEGIS_ECONFIG, "%s: %s.name: missing", r->source,
					field);
		c->name = xstrdup(name);
		const char *image = get_str(r, ctr, "image");
		c->image = xstrdup(image ? image : "");
		if (read_ports(r, ctr, field, out) < 0 ||
		    read_probe(r, ctr, field, &c->readiness) < 0)
			return -1;
	}
	/* containers of a pod share one network namespace: a probe reaches its
	 * port through whichever container publishes it */
	for (size_t i = 0; i < out->ncontainers; i++) {
		probe *p = &out->containers[i].readiness;
		if (p->kind != PROBE_HTTP && p->kind != PROBE_TCP)
			continue;
		for (size_t k = 0; k < out->nports && !p->host_port; k++)
			if (out->ports[k].container_port == p->port) {
				p->host_port = out->ports[k].host_port;
				probe_host_for(out->ports[k].host_ip, p->host, sizeof p->host);
			}
	}
	return 0;
}

static int read_volumes(const struct reader *r, yaml_node_t *spec, pod *out)
{
	yaml_node_t *vols = get(r, spec, "volumes");
	if (want_seq(r, vols, "spec.volumes") < 0)
		return -1;
	for (size_t i = 0; i < seq_len(vols); i++) {
		const char *claim =
		    get_str(r, get(r, seq_at(r, vols, i), "persistentVolumeClaim"), "claimName");
		if (claim)
			strv_push(&out->volumes, &out->nvolumes, claim);
		yaml_node_t *hp = get(r, seq_at(r, vols, i), "hostPath");
		const char *type = get_str(r, hp, "type");
		const char *path = get_str(r, hp, "path");
		if (path && type && strcmp(type, "Socket") == 0 && !unresolved(path))
			strv_push(&out->sockets, &out->nsockets, path);
	}
	return 0;
}

static int read_pod(const struct reader *r, yaml_node_t *root, pod *out)
{
	yaml_node_t *meta = get(r, root, "metadata");
	const char *pod_name = get_str(r, meta, "name");
	if (!pod_name || !*pod_name)
		return aerr_set(r->err, AEGIS_ECONFIG, "%s: metadata.name: missing", r->source);
	out->pod_name = xstrdup(pod_name);
	const char *label = get_str(r, get(r, meta, "labels"), POD_LABEL);
	if (label && *label)
		out->name = xstrdup(label);
	else
		out->name = xstrdup(strncmp(pod_name, "pod-", 4) == 0 ? pod_name + 4 : pod_name);
	const char *hash = get_str(r, get(r, meta, "labels"), MANIFEST_HASH_LABEL);
	if (hash && *hash)
		out->manifest_hash = xstrdup(hash);
	yaml_node_t *spec = get(r, root, "spec");
	if (read_list(r, meta, POD_DEPENDS_ANNOTATION, &out->depends, &out->ndepends) < 0 ||
	    read_aliases(r, meta, out) < 0 || read_containers(r, spec, out) < 0 ||
	    read_volumes(r, spec, out) < 0)
		return -1;
	return 0;
}

int pod_from_manifest(const char *source, const char *yaml, size_t len, pod *out, aerr_t *err)
{
	memset(out, 0, sizeof *out);
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	int rc = 1; /* 1: no Pod document yet */
	while (rc > 0) {
		yaml_document_t doc;
		int more = ydoc_next(&parser, source, &doc, err);
		if (more <= 0) {
			rc = more < 0 ? -1 : rc;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		struct reader r = {source, &doc, err};
		const char *kind = get_str(&r, root, "kind");
		if (kind && strcmp(kind, "Pod") == 0)
			rc = read_pod(&r, root, out);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (rc > 0)
		rc = aerr_set(err, AEGIS_ECONFIG, "%s: no document of kind Pod", source);
	if (rc < 0)
		pod_free(out);
	return rc;
}

static void probe_free(probe *p)
{
	free(p->path);
	for (size_t i = 0; i < p->ncommand; i++)
		free(p->command[i]);
	free(p->command);
}

void pod_free(pod *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->pod_name);
	for (size_t i = 0; i < p->ndepends; i++)
		free(p->depends[i]);
	free(p->depends);
	for (size_t i = 0; i < p->naliases; i++)
		free(p->aliases[i]);
	free(p->aliases);
	for (size_t i = 0; i < p->ncontainers; i++) {
		free(p->containers[i].name);
		free(p->containers[i].image);
		probe_free(&p->containers[i].readiness);
	}
	free(p->containers);
	for (size_t i = 0; i < p->nvolumes; i++)
		free(p->volumes[i]);
	free(p->volumes);
	free(p->manifest_hash);
	for (size_t i = 0; i < p->nsockets; i++)
		free(p->sockets[i]);
	free(p->sockets);
	for (size_t i = 0; i < p->nports; i++) {
		free(p->ports[i].protocol);
		free(p->ports[i].host_ip);
	}
	free(p->ports);
	memset(p, 0, sizeof *p);
}

const char *probe_kind_name(probe_kind kind)
{
	switch (kind) {
	case PROBE_HTTP:
		return "httpGet";
	case PROBE_TCP:
		return "tcpSocket";
	case PROBE_EXEC:
		return "exec";
	default:
		return "none";
	}
}

char *probe_target(const probe *p)
{
	int port = p->host_port ? p->host_port : p->port;
	switch (p->kind) {
	case PROBE_HTTP:
		return xasprintf(":%d%s%s", port, p->path && p->path[0] == '/' ? "" : "/",
				 p->path ? p->path : "");
	case PROBE_TCP:
		return xasprintf(":%d", port);
	case PROBE_EXEC: {
		size_t len = 1;
		for (size_t i = 0; i < p->ncommand; i++)
			len += strlen(p->command[i]) + 1;
		char *s = xcalloc(len, 1);
		for (size_t i = 0; i < p->ncommand; i++) {
			if (i)
				strcat(s, " ");
			strcat(s, p->command[i]);
		}
		return s;
	}
	default:
		return xstrdup("");
	}
}

char *probe_describe(const probe *p)
{
	if (p->kind == PROBE_NONE)
		return xstrdup("none");
	cleanup_free char *target = probe_target(p);
	return xasprintf("%s %s", probe_kind_name(p->kind), target);
}
