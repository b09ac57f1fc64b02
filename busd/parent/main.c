// SPDX-License-Identifier: MIT
/* main.c - capbusd: arguments, configuration, then the privileged parent takes over. */
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/log.h"
#include "guard.h"
#include "parent/parent.h"

static void usage(FILE *f)
{
	fputs("Usage: capbusd --config FILE\n"
	      "       capbusd --demo DIR     (embedded defaults, everything under DIR)\n"
	      "Runs the capbus message bus daemon in the foreground, logging to stderr.\n"
	      "  -c, --config FILE   JSON configuration (see capbusd(8))\n"
	      "      --demo DIR      no configuration file: socket DIR/run/bus.sock, state DIR/state,\n"
	      "                      manifests DIR/manifests, skills DIR/skills\n"
	      "      --router PATH   development: execute PATH as the router instead of capbusd-router\n"
	      "      --gateway PATH  development: execute PATH as the supervised gateway instead of\n"
	      "                      capbus-gateway (only with a \"gateway\" object in the configuration)\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       version\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "demo", required_argument, NULL, 'd' },
		{ "router", required_argument, NULL, 'r' }, { "gateway", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *demo_dir = NULL, *router_path = NULL, *gateway_path = NULL;
	struct config cfg;
	char *error = NULL;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			demo_dir = optarg;
			break;
		case 'r':
			router_path = optarg;
			break;
		case 'g':
			gateway_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			puts("capbusd " CAPBUS_VERSION);
			/* Tests and operators tell a build without the guard (-Dbpf=disabled) by this line. */
			printf("kernel guard: %s\n", guard_built() ? "built" : "not built");
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || (!config_path == !demo_dir)) {
		fprintf(stderr, "capbusd: give exactly one of --config FILE or --demo DIR (see capbusd --help)\n");
		return 1;
	}
	if (demo_dir) {
		/* Everything lives under DIR, which must be ours; create what is missing. */
		char real[PATH_MAX];
		if (mkdir(demo_dir, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "capbusd: cannot create %s: %s\n", demo_dir, strerror(errno));
			return 1;
		}
		if (!realpath(demo_dir, real)) {
			fprintf(stderr, "capbusd: %s: %s\n", demo_dir, strerror(errno));
			return 1;
		}
		r = config_defaults_in(real, &cfg);
		if (r == 0 && mkdir(cfg.manifest_dir, 0755) < 0 && errno != EEXIST)
			r = -errno;
	} else {
		r = config_load(config_path, &cfg, &error);
	}
	if (r != 0) {
		fprintf(stderr, "capbusd: %s\n", error ? error : strerror(-r));
		free(error);
		config_free(&cfg); /* config_load's contract: cfg holds allocations either way */
		return 1;
	}
	if (gateway_path && !(cfg.gateway_exec = strdup(gateway_path))) {
		config_free(&cfg);
		return 1;
	}
	log_setup(cfg.log_level, "main");
	r = parent_run(&cfg, router_path);
	config_free(&cfg);
	return r;
}
