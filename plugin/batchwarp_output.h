/* Atomic outputs: a worker writes under a hidden temporary name in the
 * destination directory, closes it, then renames it into place, so a final
 * name only ever holds a complete dataset. */
#ifndef BATCHWARP_OUTPUT_H_INCLUDED
#define BATCHWARP_OUTPUT_H_INCLUDED

/* Deletes a temporary output and its sidecars, if present. Quiet. */
void BWDiscardTemp(const char *pszTemp);

/* Renames a closed temporary output to its final name with GDAL's driver
 * rename, so that sidecars (.aux.xml, .ovr, .msk) follow. An existing
 * dataset at the final name is deleted first. Errors go to CPLError. */
int BWPublishOutput(const char *pszTemp, const char *pszOutput);

#endif
