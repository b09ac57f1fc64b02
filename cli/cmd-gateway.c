// SPDX-License-Identifier: MIT
/* cmd-gateway.c - capbus gateway-cert: a self-signed TLS pair for capbus-gateway.
 *
 * Local, no daemon: an administrator's tool writing root's files. The private key is created
 * with O_EXCL and mode 0600 (refused if present unless --force), the certificate 0644; the
 * SHA-256 fingerprint printed is the one phone apps pin. OpenSSL 3 libcrypto. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

#define CERT_NAMES_MAX 16

static void pkey_freep(EVP_PKEY **k)
{
	EVP_PKEY_free(*k);
}

static void x509_freep(X509 **x)
{
	X509_free(*x);
}

/* "DNS:name" or "IP:addr" for the subjectAltName list. */
static int append_san(char *buf, size_t size, const char *name)
{
	unsigned char tmp[16];
	bool ip = inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;
	size_t len = strlen(buf);
	int n = snprintf(buf + len, size - len, "%s%s:%s", len ? "," : "", ip ? "IP" : "DNS", name);

	return n < 0 || (size_t)n >= size - len ? -ENAMETOOLONG : 0;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':' || *p == '*'))
			return false;
	return true;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static X509 *make_cert(EVP_PKEY *key, const char *const *names, size_t n, long days)
{
	_cleanup_(x509_freep) X509 *cert = X509_new();
	unsigned char serial[16];
	char san[CERT_NAMES_MAX * 262] = "";

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		return NULL;
	serial[0] &= 0x7f; /* a positive INTEGER */
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	if (!sn || !X509_set_serialNumber(cert, sn)) {
		ASN1_INTEGER_free(sn);
		return NULL;
	}
	ASN1_INTEGER_free(sn);
	X509_NAME *subject = X509_get_subject_name(cert);
	if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) ||
	    !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)names[0], -1, -1, 0) ||
	    !X509_set_issuer_name(cert, subject) || !X509_set_pubkey(cert, key))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (append_san(san, sizeof(san), names[i]) < 0)
			return NULL;
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 || add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    !X509_sign(cert, key, EVP_sha256()))
		return NULL;
	return TAKE_PTR(cert);
}

/* Writes with PEM through a fresh fd: O_EXCL unless force (then the old file is replaced by a
 * new one, never rewritten in place, so a reader never sees half of it). */
static int write_pem(const char *path, mode_t mode, bool force, EVP_PKEY *key, X509 *cert)
{
	_cleanup_free_ char *tmp = NULL;
	const char *target = path;

	if (force) {
		if (asprintf(&tmp, "%s.tmp-%d", path, (int)getpid()) < 0)
			return -ENOMEM;
		target = tmp;
	}
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return negative_errno();
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	int ok = fchmod(fd, mode) == 0 && (key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) :
						 PEM_write_X509(f, cert));
	ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
	fclose(f);
	if (ok && force && rename(tmp, path) < 0)
		ok = 0;
	if (!ok) {
		unlink(target);
		return -EIO;
	}
	return 0;
}

int cmd_gateway_cert(struct cli *cli, int argc, char **argv)
{
	const char *cert_path = "/etc/capbus/gateway.crt", *key_path = "/etc/capbus/gateway.key";
	const char *names[CERT_NAMES_MAX];
	char host[256];
	size_t n = 0;
	long days = 825;
	bool force = false;

	(void)cli;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (streq(a, "--cert") && has) {
			cert_path = argv[++i];
		} else if (streq(a, "--key") && has) {
			key_path = argv[++i];
		} else if (streq(a, "--name") && has && n < CERT_NAMES_MAX) {
			names[n] = argv[++i];
			if (!name_ok(names[n])) {
				fprintf(stderr, "capbus: gateway-cert: \"%s\" is not a DNS name or IP address\n", names[n]);
				return EXIT_USAGE;
			}
			n++;
		} else if (streq(a, "--days") && has) {
			char *end;
			days = strtol(argv[++i], &end, 10);
			if (*end || days < 1 || days > 3650) {
				fprintf(stderr, "capbus: gateway-cert: --days must be from 1 to 3650\n");
				return EXIT_USAGE;
			}
		} else if (streq(a, "--force")) {
			force = true;
		} else {
			fprintf(stderr, "capbus: usage: gateway-cert [--cert FILE] [--key FILE] [--name DNS|IP]... [--days N] [--force]\n");
			return EXIT_USAGE;
		}
	}
	if (n == 0) {
		if (gethostname(host, sizeof(host)) == 0 && name_ok(host))
			names[n++] = host;
		names[n++] = "localhost";
		names[n++] = "127.0.0.1";
		names[n++] = "::1";
	}
	if (!force && (access(key_path, F_OK) == 0 || access(cert_path, F_OK) == 0)) {
		fprintf(stderr, "capbus: gateway-cert: %s or %s exists; --force replaces both\n", key_path, cert_path);
		return EXIT_USAGE;
	}
	_cleanup_(pkey_freep) EVP_PKEY *key = EVP_EC_gen("P-256");
	_cleanup_(x509_freep) X509 *cert = key ? make_cert(key, names, n, days) : NULL;
	if (!cert) {
		fprintf(stderr, "capbus: gateway-cert: OpenSSL could not make the certificate\n");
		return EXIT_USAGE;
	}
	int r = write_pem(key_path, 0600, force, key, NULL);
	if (r == 0)
		r = write_pem(cert_path, 0644, force, NULL, cert);
	if (r < 0) {
		fprintf(stderr, "capbus: gateway-cert: cannot write %s: %s\n", r == -EIO ? cert_path : key_path, strerror(-r));
		return EXIT_USAGE;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (!X509_digest(cert, EVP_sha256(), md, &md_len))
		return EXIT_USAGE;
	printf("sha256 fingerprint: ");
	for (unsigned i = 0; i < md_len; i++)
		printf("%02X%s", md[i], i + 1 < md_len ? ":" : "\n");
	fprintf(stderr, "capbus: wrote %s (0600) and %s (0644)\n", key_path, cert_path);
	return EXIT_OK;
}
