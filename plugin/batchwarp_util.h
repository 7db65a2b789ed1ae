/* Small helpers that several modules need alike. A module with a copy of
 * its own still to fold into these: batchwarp_options.c (ParsePositiveInt). */
#ifndef BATCHWARP_UTIL_H_INCLUDED
#define BATCHWARP_UTIL_H_INCLUDED

/* Seconds on the monotonic clock, for durations and deadlines. */
double BWMonotonicSeconds(void);

/* Parses a whole decimal integer in [nMin, nMax]: no sign other than '-',
 * no trailing text. Returns FALSE, leaving *pnOut alone, otherwise. */
int BWParseLong(const char *pszValue, long nMin, long nMax, long *pnOut);

#endif
