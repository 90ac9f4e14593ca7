/*
 * compare.h — `sim compare BASE NEW`: the regression gate between two runs or two benchmarks.
 *
 * BASE and NEW are each a run's output directory (its summary.json is read), a summary.json, or
 * a bench.json ({"commit", "machine": {...}, "figures": [{"name", "value", "unit", "baseline",
 * "ratio", "goal", "runs": [...]}]}). Figures are matched by name and printed as an aligned table
 * NAME BASE NEW DELTA VERDICT. Every known figure has a direction (higher or lower is better) and
 * a default threshold — how much it may get worse before it counts as a regression; `sim compare
 * --help` prints them; figures with no rule are shown as "info" and not gated. A bench.json
 * figure's direction comes from its optional "better" ("higher" or "lower"), else its unit
 * (s, ms, us, ns, B: lower; "/s", "x": higher); its "ratio" (value / baseline, measured side by
 * side) is compared as the row "NAME.ratio" in the same direction. When the two bench.json files
 * name different "machine"s, values that have a ratio are shown but only the ratio is gated.
 *
 * Exit status: 0 no figure regressed, 1 at least one did (each is named on its own line),
 * 2 bad input (usage, a missing or malformed file: the message names the file).
 */
#ifndef FL_COMPARE_H
#define FL_COMPARE_H

#include <stdio.h>

/*
 * argv[0] is the command's name (e.g. "compare") and is not read; then BASE, NEW and options:
 *   --threshold NAME=FRACTION  (repeatable; NAME is a glob; FRACTION a number or "off")
 *   --json                     (the comparison as one JSON object instead of the table)
 *   --help
 * The table (or JSON) goes to stdout, errors to stderr. Returns the exit status.
 */
int compare_main(int argc, char **argv);

/* The same, writing to out and errout (tests). */
int compare_run(int argc, char **argv, FILE *out, FILE *errout);

#endif
