/*
 * A task writes its output under a temporary name. The few formats that
 * record a name in the file itself are made to say what gdalwarp writes at
 * the output's final place; the rest of each file keeps the driver's bytes.
 */
#ifndef BATCHWARP_OUTPUT_REFS_H
#define BATCHWARP_OUTPUT_REFS_H

/* A warped VRT (pszWritten, written as pszWrittenName): its source named as
 * gdalwarp would name it from pszFinal, and so that it opens from any
 * working directory. Raises an error if the file cannot be rewritten. */
void BWReferSourceFromFinalPlace(const char *pszWritten, const char *pszWrittenName,
                                 const char *pszFinal);

/* An ENVI header (beside the main file pszWritten) naming pszFinal, as
 * gdalwarp's does. Raises an error if it cannot be rewritten. */
void BWNameOutputInEnviHeader(const char *pszWritten, const char *pszFinal);

#endif
