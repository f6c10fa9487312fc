/* ssh:// URLs (Podman's form): what the tunnel is started with, and what is
 * refused before ssh ever runs.  The tunnel itself is exercised against a
 * real sshd by tests/integration/48-ssh-remote.sh. */
#include "harness.h"
#include "lib/podman/sshtunnel.h"

TEST(ssh_url_parts)
{
	ssh_url u;
	aerr_t err = {0};
	CHECK(
	    ssh_url_parse("ssh://deploy@staging.example.org:2222/run/user/1001/podman/podman.sock",
			  &u, &err) == 0);
	CHECK_STR(u.user, "deploy");
	CHECK_STR(u.host, "staging.example.org");
	CHECK(u.port == 2222);
	CHECK_STR(u.path, "/run/user/1001/podman/podman.sock");
	CHECK_STR(u.display,
		  "ssh://deploy@staging.example.org:2222/run/user/1001/podman/podman.sock");
	ssh_url_free(&u);

	CHECK(ssh_url_parse("ssh://[::1]/run/podman/podman.sock", &u, &err) == 0);
	CHECK(u.user == NULL);
	CHECK_STR(u.host, "::1");
	CHECK(u.port == 0);
	CHECK_STR(u.display, "ssh://[::1]/run/podman/podman.sock");
	ssh_url_free(&u);
}

TEST(ssh_url_refused)
{
	static const struct {
		const char *url, *says;
	} bad[] = {
	    {"tcp://127.0.0.1:8080", "is not an ssh:// URL"},
	    {"ssh://u@h", "no socket path"},
	    {"ssh://u@h/", "no socket path"},
	    {"ssh://u@h/x.sock?secure=true", "URL parameters"},
	    {"ssh://-oProxyCommand/x.sock", "is not a host name"},
	    {"ssh://u:hunter2@h/x.sock", "a password in the URL is not supported"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ssh_url u;
		aerr_t err = {0};
		CHECK(ssh_url_parse(bad[i].url, &u, &err) < 0);
		CHECK(err.status == AEGIS_ECONFIG);
		CHECK_CONTAINS(err.msg, bad[i].says);
		/* a password is never shown */
		CHECK(strstr(err.msg, "hunter2") == NULL);
	}
}

TEST(sshtunnel_unreachable_names_the_url)
{
	/* port 1 on loopback: nothing listens, ssh says so at once */
	sshtunnel *t = NULL;
	aerr_t err = {0};
	sshtunnel_options opt = {.config = "/dev/null", .connect_timeout_s = 5};
	int rc = sshtunnel_open(&t, "ssh://nobody@127.0.0.1:1/run/podman/podman.sock", &opt, &err);
	if (rc < 0 && err.status == AEGIS_ECONFIG && strstr(err.msg, "not installed")) {
		harness_skip("the OpenSSH client is not installed");
		return;
	}
	CHECK(rc < 0);
	CHECK(t == NULL);
	CHECK(err.status == AEGIS_EFAIL);
	CHECK_CONTAINS(err.msg, "ssh://nobody@127.0.0.1:1/run/podman/podman.sock");
	CHECK_CONTAINS(err.msg, "cannot reach the host");
	CHECK_CONTAINS(err.msg, "Connection refused");
}
