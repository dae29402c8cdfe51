/* config_private — what config.c (the reader: two passes over the file)
 * and config_keys.c (the table of keys and their parsers) share. Not for
 * use outside src/config/. */
#ifndef LS_CONFIG_PRIVATE_H
#define LS_CONFIG_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "config.h"

/* In the order of the reference (group_tab[]). */
enum group_kind {
	G_RIG,
	G_CAMERA,
	G_OUTPUT,
	G_OUTPUT_SHM,
	G_OUTPUT_FILE,
	G_OUTPUT_RTSP,
	G_REDACT,
	G_DETECT,
	G_RECORD,
	G_SERVER,
	G_CLOCK,
	G_BUS,
	G_REMOTE
};

struct scan_key {
	char *name;
	int line;
	const struct key_def *def; /* its row in config_tab[] */
};

struct scan_group {
	char *name; /* as GKeyFile knows it: "camera cam1" */
	enum group_kind kind;
	int line;
	GArray *keys; /* struct scan_key, in file order */
};

enum key_type {
	K_INT,    /* int or unsigned (or an enum of that size) in [min, max]; a multiple of step when step > 1 */
	K_FIXED,  /* int64_t ns: a decimal number of `unit` ns ("4.5" ms), exact, in [min, max] ns */
	K_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
	K_ONOFF,  /* bool, the same values, but "expected on or off" on error */
	K_ENUM,   /* an int-sized enum or a bool: the value of the choice named */
	K_NAME,   /* char * (owned): one of names[] */
	K_STRING, /* char * (owned): anything; `empty` says why "" is refused, or NULL */
	K_CUSTOM, /* parse() does it all */
};

/* Where a value goes: the group's struct, and for messages the key read. */
struct key_use {
	void *base;                 /* struct ls_config, ls_camera_config, ... (key_def.group) */
	const struct scan_group *g; /* NULL when the default is read */
	const struct scan_key *k;   /* likewise */
};

/* Reads @v into the field of @kd in u->base. 0, or -EINVAL with *reason a
 * g_strdup'd message (without the "[group] key: " that key_error() adds). */
typedef int key_parse_fn(const struct key_def *kd, const struct key_use *u, const char *v, char **reason);

struct choice {
	const char *name;
	int value;
};

struct key_def {
	enum group_kind group;
	const char *name;
	enum key_type type;
	size_t off, size; /* the field, in the group's struct */
	int64_t min, max; /* K_INT: the value; K_FIXED (and custom keys with a unit): ns, or units of `unit` */
	int64_t unit;     /* K_FIXED: ns per unit of the value (LS_NS_PER_MS for "-ms" keys) */
	int step;         /* K_INT */
	const struct choice *choices; /* K_ENUM: ends with a NULL name */
	const char *const *names;     /* K_NAME, or a custom key's choices: ends with NULL */
	const char *empty;            /* K_STRING */
	key_parse_fn *parse;          /* K_CUSTOM */
	/* A default value: read into the field, by the same parser, before the
	 * group's keys. Keys without one keep 0/NULL, which the loader or the
	 * user of the field reads as `defdoc` says. */
	const char *def;
	const char *defdoc;  /* for the reference: a default that is no value ("T/2"), or NULL */
	const char *missing; /* required key: "[group] " + this when it is not given */
	const char *eg;      /* for the reference: an example, for keys without def */
	const char *range;   /* for the reference, where min/max, names or choices do not say it */
	const char *doc;     /* one line, for the reference */
};

/* A group of the file: [rig], [camera NAME], [output mosaic], ... */
struct group_def {
	const char *name;   /* as in the file; NULL: [camera NAME] */
	size_t size;        /* of the struct its keys fill */
	const char *header; /* for the reference */
	const char *doc;
};

/* The kind of the group named @name (not a camera), or -1. */
int cfg_group_kind_of(const char *name);
/* The row of key @name in groups of @kind, or NULL. */
const struct key_def *cfg_find_key(enum group_kind kind, const char *name);
/* The rows of @kind in table order: pass NULL for the first, then the
 * previous row; NULL after the last. */
const struct key_def *cfg_key_next(enum group_kind kind, const struct key_def *prev);
/* "a, b, c": the keys of @kind, for the unknown-key message; g_free() it. */
char *cfg_key_names(enum group_kind kind);
/* Reads the value @v of the key @kd into u->base. 0, or -EINVAL with
 * *reason a g_strdup'd message (without the "[group] key: " prefix). */
int cfg_set_key(const struct key_def *kd, const struct key_use *u, const char *v, char **reason);
/* Reads the defaults of the keys of @kind into u->base. */
void cfg_set_defaults(enum group_kind kind, const struct key_use *u);

#endif
