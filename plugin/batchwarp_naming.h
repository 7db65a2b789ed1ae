/*
 * Output names from a template. Placeholders:
 *   {stem}     the source's file name without its extension
 *   {name}     the source's file name
 *   {ext}      the output driver's extension (GDAL_DMD_EXTENSION), no dot
 *   {suffix}   the -suffix text
 *   {relpath}  the source's directory below the directory it was listed
 *              from ("" for sources given as files): -recursive mirrors
 *              the input tree with it
 *   {parent}   the name of the source's own directory
 * The result is relative to -outdir; empty components vanish, and so does
 * the dot before an empty {ext}.
 */
#ifndef BATCHWARP_NAMING_H_INCLUDED
#define BATCHWARP_NAMING_H_INCLUDED

#define BW_DEFAULT_OUTPUT_TEMPLATE "{relpath}/{stem}{suffix}.{ext}"

/* Returns the name (CPLFree it), or NULL with *ppszError (if not NULL) for
 * an unknown placeholder or a name that leaves -outdir. */
char *BWExpandOutputTemplate(const char *pszTemplate, const char *pszSource, const char *pszRelDir,
                             const char *pszSuffix, const char *pszExtension, char **ppszError);

#endif
