/*
 * err.c — see err.h. One table built from the lists in err.h plus rt.h's codes; lookups walk it
 * (a few dozen entries, called only on error paths).
 */
#include "err.h"

#include "../rt/rt.h"

#include <stddef.h>

#define RT_CODES(X)                                                                              \
	X(RT_OK) X(RT_EINVAL) X(RT_ENOMEM) X(RT_ENOENT) X(RT_EIO) X(RT_EADDRINUSE)                 \
	X(RT_ECONNREFUSED) X(RT_ECONNRESET) X(RT_ETIMEDOUT) X(RT_ECANCELED) X(RT_EOF) X(RT_ECLOSED) \
	X(RT_ETOOBIG)

/* rt.h's texts come from rt_strerror (the seam owns them), filled in at lookup: NULL here. */
static const fl_err_info table[] = {
#define RT_ROW_(name) {name, #name, "RT", NULL},
	RT_CODES(RT_ROW_)
#undef RT_ROW_
#define MOD_ROW_(name, mod, off, text) {name, #name, #mod, text},
	FL_ERR_LIST(MOD_ROW_)
#undef MOD_ROW_
};

static const struct {
	const char *name;
	int base;
	const char *unknown;
} modules[] = {
#define MOD_(mod, base, where) {#mod, base, "unknown " #mod " error (" where ")"},
	FL_ERR_MODULES(MOD_)
#undef MOD_
};

#define NTABLE ((int)(sizeof table / sizeof table[0]))
#define NMODULES ((int)(sizeof modules / sizeof modules[0]))

int fl_err_count(void) { return NTABLE; }

const fl_err_info *fl_err_at(int i)
{
	return i >= 0 && i < NTABLE ? &table[i] : NULL;
}

static const fl_err_info *find(int err)
{
	for (int i = 0; i < NTABLE; i++)
		if (table[i].code == err)
			return &table[i];
	return NULL;
}

static int module_of(int err)
{
	for (int i = 0; i < NMODULES; i++)
		if (err < modules[i].base && err >= modules[i].base - FL_ERR_RANGE)
			return i;
	return -1;
}

const char *fl_strerror(int err)
{
	const fl_err_info *e = find(err);
	if (e)
		return e->text ? e->text : rt_strerror(err);
	int m = module_of(err);
	return m >= 0 ? modules[m].unknown : "unknown error";
}

const char *fl_errname(int err)
{
	const fl_err_info *e = find(err);
	return e ? e->name : NULL;
}

const char *fl_errmodule(int err)
{
	const fl_err_info *e = find(err);
	if (e)
		return e->module;
	int m = module_of(err);
	return m >= 0 ? modules[m].name : NULL;
}
