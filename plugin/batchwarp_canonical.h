/*
 * One spelling per file, so that two names of one file (through "..", a
 * link, a directory not made yet) are found to collide.
 */
#ifndef BATCHWARP_CANONICAL_H
#define BATCHWARP_CANONICAL_H

/* Canonical form of a local path whose last component may not exist yet
 * (CPLFree it); /vsi paths as given. */
char *BWCanonicalPath(const char *pszPath);

/* The same for many paths, most in one directory (a plan's outputs or
 * sources): the last directory's canonical form is kept, so that each path
 * costs an lstat() instead of realpath()s, which read every component. */
typedef struct
{
    char *pszDir;      /* the last directory asked for */
    char *pszCanonDir; /* its canonical form, NULL if it has none */
    int bMissing;      /* it does not exist (yet): nothing in it is a link */
} BWCanonicalCache;

char *BWCanonicalPathCached(BWCanonicalCache *psCache, const char *pszPath);
void BWCanonicalCacheClear(BWCanonicalCache *psCache);

#endif
