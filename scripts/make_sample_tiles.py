"""Writes a grid of small georeferenced GeoTIFF tiles (EPSG:4326, Float32)
with a smooth pattern, as sample input for gdal_batchwarp."""
import argparse
import math
import os
import struct

from osgeo import gdal, osr

gdal.UseExceptions()


def write_tile(path, col, row, size, degrees):
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(path, size, size, 1, gdal.GDT_Float32)
    west = -10.0 + col * degrees
    north = 50.0 - row * degrees
    ds.SetGeoTransform([west, degrees / size, 0, north, 0, -degrees / size])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    values = []
    for y in range(size):
        lat = north - (y + 0.5) * degrees / size
        for x in range(size):
            lon = west + (x + 0.5) * degrees / size
            values.append(100 * math.sin(lon) * math.cos(lat) + 10 * ((x ^ y) & 7))
    ds.GetRasterBand(1).WriteRaster(0, 0, size, size, struct.pack(f"{size * size}f", *values))
    ds = None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir")
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    per_row = max(1, int(math.sqrt(args.count)))
    for i in range(args.count):
        col, row = i % per_row, i // per_row
        write_tile(os.path.join(args.outdir, f"tile_{row:03d}_{col:03d}.tif"), col, row, args.size, 0.25)


if __name__ == "__main__":
    main()
