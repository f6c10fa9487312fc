#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>

#include "harness.h"
#include "lib/podman/podsecret.h"

/* The base64 VALUE decoded (newly allocated, NUL-terminated), or NULL. */
static char *unbase64(const char *value)
{
	size_t len = strlen(value);
	unsigned char *out = xmalloc(len + 1);
	int n = EVP_DecodeBlock(out, (const unsigned char *)value, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	while (len && value[--len] == '=')
		n--;
	out[n] = '\0';
	return (char *)out;
}

/* What Podman 4.3 reads for secretKeyRef: a JSON object of base64 values,
 * each decoding to exactly the value, whatever it holds. */
TEST(podsecret_content_is_json_of_base64_values)
{
	render_secret s[] = {
	    {"POSTGRES_PASSWORD", " lead \"dq\" 'sq' key: val #hash\nsecond line ü", 0},
	    {"AEGIS_DATABASE_URL", "postgresql://aegis:p%40ss@pod-database:5432/aegis", 0},
	    {"A", "x", 0},
	    {"AB", "xy", 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		s[i].len = strlen(s[i].value);
	rendered m = {.secrets = s, .nsecrets = ARRAY_SIZE(s)};
	size_t len;
	char *text = podsecret_content(&m, &len);
	CHECK(text && len == strlen(text));
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	CHECK(json_is_object(obj) && json_object_size(obj) == ARRAY_SIZE(s));
	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		const char *b64 = json_string_value(json_object_get(obj, s[i].key));
		CHECK(b64 != NULL);
		cleanup_free char *got = unbase64(b64);
		CHECK_STR(got, s[i].value);
	}
	CHECK(!strstr(text, "lead"));
	json_decref(obj);
	free(text);
	rendered none = {0};
	CHECK(podsecret_content(&none, &len) == NULL && len == 0);
}
