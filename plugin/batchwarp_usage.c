#include "gdal_batchwarp.h"

const char *GDALBatchWarpGetUsage(void)
{
    return "Usage: gdal_batchwarp [--help] [--version] [--help-general]\n"
           "                      [--config <KEY> <VALUE>]... [--debug on|off]\n"
           "                      [<gdalwarp options>] [<batch options>]\n"
           "                      <src>... -outdir <dir>\n"
           "\n"
           "Runs gdalwarp on every source with a pool of clean worker processes.\n"
           "Every gdalwarp option is accepted unchanged (see gdalwarp --help).\n"
           "A <src> is a raster file or a directory, whose rasters are taken in\n"
           "sorted order. Use -- before sources whose names start with '-'.\n"
           "\n"
           "Batch options:\n"
           "  -outdir <dir>         Directory for the outputs (created if needed).\n"
           "  -j <n>|ALL_CPUS       Number of worker processes (default: number of CPUs).\n"
           "  -suffix <text>        Appended to each output's base name.\n"
           "  -report <file>|-      Write a JSON-lines report, one line per source.\n"
           "  -overwrite            Redo outputs that already exist (default: keep them).\n"
           "  -max_tasks_per_worker <n>\n"
           "                        Replace a worker after n tasks (default: 500).\n"
           "  -timeout <seconds>    Kill a task that runs longer, and fail it.\n"
           "  -q, -quiet            No progress bar and no warnings on stderr.\n"
           "\n"
           "Outputs are <dir>/<basename><suffix>.<extension of the -of driver>.\n"
           "Exit status: 0 all files succeeded, 1 some file failed or the batch\n"
           "could not run, 2 usage error (nothing was written).\n";
}
