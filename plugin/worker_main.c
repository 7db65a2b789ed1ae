/* gdal_batchwarp_worker: started by the supervisor, never by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdal_batchwarp.h"

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--worker-fd") != 0)
    {
        fprintf(stderr, "gdal_batchwarp_worker is started by gdal_batchwarp, not by hand.\n");
        return 2;
    }
    return GDALBatchWarpWorkerMain(atoi(argv[2]));
}
