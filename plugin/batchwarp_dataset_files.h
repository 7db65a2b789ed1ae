/*
 * A dataset of several files (ENVI's .bin and .hdr, an MRF's .mrf, .idx and
 * tiles, PDS4's label and data) listed in a source directory is one source,
 * not one per file.
 */
#ifndef BATCHWARP_DATASET_FILES_H
#define BATCHWARP_DATASET_FILES_H

#include "batchwarp_sources.h"

/* Leaves out of psList's sources [nFirst, nSources) the files of another
 * listed dataset of the same stem, and those an MRF names in its XML (see
 * the definition). */
void BWDropFilesOfListedDatasets(BWSourceList *psList, int nFirst);

#endif
