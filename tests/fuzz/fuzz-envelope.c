// SPDX-License-Identifier: MIT
/* fuzz-envelope.c - libFuzzer target: message parsing, sender stamping and serialisation.
 *
 * Input: byte 0 picks max_depth (1..64), the rest is a message body. A body that parses is
 * stamped with a sender and serialised; the router forwards exactly those bytes, so they must
 * parse again under the same rules, keep type and sender, and serialise to the same bytes.
 * The router's tree-free path (envelope_scan + envelope_write_stamped) must never accept what
 * envelope_parse refuses, and must deliver the same meaning; whatever the JSON scanner accepts,
 * cJSON must parse. */
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "unicode.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENDER "org.example.fuzz"

static void check_sender(const struct envelope *e)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(e->context, "sender");
	if (!cJSON_IsString(s) || strcmp(s->valuestring, SENDER) != 0)
		abort();
	size_t n = 0;
	for (const cJSON *it = e->context->child; it; it = it->next)
		n += strcmp(it->string, "sender") == 0;
	if (n != 1)
		abort();
}

/* docs/protocol.md, written out independently: 1..255 bytes of UTF-8 (shortest form, no
 * surrogates, at most U+10FFFF) without C0 controls, DEL, C1 controls, '*', or the invisible
 * characters the document lists (that list is shared data: unicode.h). */
static bool type_matches_spec(const char *t)
{
	const unsigned char *p = (const unsigned char *)t;
	size_t len = strlen(t);

	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t n;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f || c == '*')
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (cp <= 0x9f || unicode_is_invisible(cp))
			return false;
		i += n;
	}
	return true;
}

/* cJSON_Compare, except that a number beyond double range (kept as written by the splicing
 * serialisation, parsed as infinity) matches the null that cJSON prints for it. */
static bool same_meaning(const cJSON *full, const cJSON *spliced)
{
	if (cJSON_IsNull(full) && cJSON_IsNumber(spliced) && !isfinite(spliced->valuedouble))
		return true;
	if ((full->type & 0xff) != (spliced->type & 0xff))
		return false;
	if (cJSON_IsObject(full)) {
		/* Members by name: the top-level keys may come in another order. */
		if (cJSON_GetArraySize(full) != cJSON_GetArraySize(spliced))
			return false;
		for (const cJSON *a = full->child; a; a = a->next) {
			const cJSON *b = cJSON_GetObjectItemCaseSensitive(spliced, a->string);
			if (!b || !same_meaning(cJSON_GetObjectItemCaseSensitive(full, a->string), b))
				return false;
		}
		return true;
	}
	if (cJSON_IsArray(full)) {
		const cJSON *a = full->child, *b = spliced->child;
		for (; a && b; a = a->next, b = b->next)
			if (!same_meaning(a, b))
				return false;
		return !a && !b;
	}
	return cJSON_Compare(full, spliced, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e = { 0 }, again = { 0 };
	const char *why = NULL;

	if (size < 1 || size > 1 << 16)
		return 0;
	unsigned max_depth = 1 + data[0] % 64;
	uint8_t *body = malloc(size - 1 ? size - 1 : 1);
	memcpy(body, data + 1, size - 1);
	size--;

	int r = envelope_parse(body, size, max_depth, &e, &why);
	if (r < 0)
		abort();
	if (json_scan_document(body, size, max_depth) == 0) {
		const char *end = NULL;
		cJSON *any = cJSON_ParseWithLengthOpts((const char *)body, size, &end, false);
		if (!any)
			abort();
		cJSON_Delete(any);
	}
	struct envelope_view view;
	int fast = envelope_scan(body, size, max_depth, &view);
	if (fast == 0 && r != 0)
		abort();
	if (fast == 0 && envelope_locate(body, size, max_depth, &view) != 0)
		abort();
	if (fast == 0)
		envelope_scan(body, size, max_depth, &view);
	if (r > 0) {
		if (!why || e.root)
			abort();
		/* Whatever the prescan refuses, the full parse refuses for the same reason. */
		int pre = envelope_prescan(body, size, max_depth);
		if (pre != 0 && pre != r)
			abort();
		goto out;
	}
	if (why || !cJSON_IsObject(e.data) || !cJSON_IsObject(e.context) ||
	    !envelope_type_is_valid(e.type, strlen(e.type)) || !type_matches_spec(e.type))
		abort();
	if (fuzz_has_escaped_nul(body, size))
		abort();
	if (envelope_set_sender(&e, SENDER) != 0)
		abort();
	check_sender(&e);
	size_t len1 = 0;
	char *s1 = envelope_serialize(&e, &len1);
	if (!s1 || len1 != strlen(s1))
		abort();
	/* Stamping can add "data" and "context" objects: one level more than the input may have had. */
	unsigned depth2 = max_depth < 2 ? 2 : max_depth;
	r = envelope_parse((const uint8_t *)s1, len1, depth2, &again, &why);
	if (r != 0)
		abort();
	if (strcmp(again.type, e.type) != 0)
		abort();
	check_sender(&again);
	if (envelope_set_sender(&again, SENDER) != 0)
		abort();
	size_t len2 = 0;
	char *s2 = envelope_serialize(&again, &len2);
	if (!s2 || len2 != len1 || memcmp(s1, s2, len1) != 0)
		abort();
	/* The router's splicing serialisation means the same message as the full one. */
	struct envelope spliced = { 0 };
	size_t len3 = 0;
	char *s3 = envelope_serialize_raw(&e, body, size, SENDER, &len3);
	if (!s3 || len3 != strlen(s3) || envelope_parse((const uint8_t *)s3, len3, depth2 + 1, &spliced, &why) != 0 ||
	    !same_meaning(again.root, spliced.root))
		abort();
	/* Both routing paths stay within the size the router accounts for before delivery. */
	if (len3 > envelope_stamped_size(size, SENDER))
		abort();
	envelope_clear(&spliced);
	if (fast == 0) {
		/* The tree-free stamping means the same message as the full one. */
		struct envelope stamped = { 0 };
		char *s4 = malloc(envelope_stamped_size(size, SENDER));
		size_t len4 = envelope_write_stamped(&view, body, SENDER, s4);
		if (len4 > envelope_stamped_size(size, SENDER) ||
		    envelope_parse((const uint8_t *)s4, len4, depth2 + 1, &stamped, &why) != 0 ||
		    strcmp(stamped.type, e.type) != 0 || !same_meaning(again.root, stamped.root))
			abort();
		check_sender(&stamped);
		/* Where both paths apply they write the same bytes: neither changes a value. */
		if (len4 != len3 || memcmp(s4, s3, len3) != 0)
			abort();
		envelope_clear(&stamped);
		free(s4);
	}
	free(s3);
	free(s1);
	free(s2);
	envelope_clear(&again);
	envelope_clear(&e);
out:
	free(body);
	return 0;
}
