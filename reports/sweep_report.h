/*
 * sweep_report.h — the page of a parameter sweep (`sim sweep FILE --param ...`): DIR/sweep.html
 * from DIR/sweep.csv (sim/engine/sweep.h: one row per run; the columns between "cell" and "seed" are the
 * parameters, the ones after "ok" the figures).
 *
 * One plot per figure that has data: the figure's mean over the seeds of each cell against the
 * first parameter, error bars one standard deviation, one line per combination of the other
 * parameters; a numeric axis when every value of the first parameter is a number, else one tick
 * per value. A table lists every cell with its runs, failures and mean ± sd of each figure.
 * gnuplot (on PATH, `set terminal svg`) draws; without it the page has the table and says so.
 */
#ifndef FL_SWEEP_REPORT_H
#define FL_SWEEP_REPORT_H

#include <stddef.h>

/*
 * Write DIR/sweep.html. 0 when written (err may then hold a warning, "" otherwise), or a
 * negative REPORT_E* code (report.h) with the reason in err (a malformed sweep.csv names its line).
 */
int sweep_report_write(const char *dir, char *err, size_t errlen);

#endif
