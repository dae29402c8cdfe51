/* pii-tool RULES: reads OCR'd text lines from stdin and prints, for each,
 * one line of the ranges ls_pii_scan() masks: "START-END:RULE:CONF" (byte
 * offsets) separated by spaces, empty if none. Used by test_pii_synth.py;
 * handy for trying a rules file by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_pii.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pii-tool RULES < lines\n");
		return 2;
	}
	struct ls_pii_rules *r;
	char *err;
	if (ls_pii_rules_load(argv[1], &r, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	char line[LS_PII_MAX_LINE + 2];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		struct ls_pii_match m[64];
		int n = ls_pii_scan(r, line, m, 64);
		for (int i = 0; i < n; i++)
			printf("%s%d-%d:%s:%.2f", i ? " " : "", m[i].start, m[i].end, m[i].rule_id,
			       (double)m[i].confidence);
		printf("\n");
	}
	ls_pii_rules_free(&r);
	return 0;
}
