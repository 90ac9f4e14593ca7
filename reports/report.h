/*
 * report.h — the HTML report of one run (`sim report DIR`, also written at the end of `sim run`).
 *
 * report_write() reads what a run left in DIR (docs/outputs.md: summary.json, events.jsonl,
 * metrics.csv, servers.csv, iterations.jsonl), draws the plots with gnuplot (found on PATH,
 * `set terminal svg`) and writes DIR/report.html: one self-contained page (CSS and SVG inline,
 * nothing fetched from the network) that a person who never saw flbench can read.
 *
 * Missing or empty input files are not errors: the page says what is missing and draws what it
 * can. A malformed file is an error that names the file and the line.
 */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include "../node/util/err.h"

#include <stddef.h>

/* Error codes REPORT_E*: node/util/err.h (the one error space). */
enum {
	REPORT_OK = 0,
};

/*
 * Write DIR/report.html (atomically: a temporary file renamed over it).
 * Returns 0 when the page was written, or a negative REPORT_E* code with a message in err.
 * A page can be written with a warning: then 0 is returned and err holds the warning (e.g.
 * gnuplot is not installed: the page has the tables, no plots, and says how to install it);
 * err is "" when there is nothing to say. err may be NULL when errlen is 0.
 * gnuplot runs in a temporary directory under $TMPDIR (or /tmp) that is removed afterwards.
 */
int report_write(const char *dir, char *err, size_t errlen);

#endif
