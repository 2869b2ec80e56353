#!/usr/bin/env python3
"""Derive src/cost/prices.tsv, opsdeck's bundled price catalogue, from the shared price files.

Run by hand when the price files change; opsdeck never reads them at run time.
Usage: scripts/gen_prices.py DATA_DIR > src/cost/prices.tsv
       (DATA_DIR holds aws-prices-compute-storage.json and aws-prices-services-us-east-1.json)

Format (tab-separated; lines starting with # are headers or comments):
  #regions  <region>... *          the price columns of every row; * = the same in every region
  #source   <id> <as-of date> <description>
  #multiplier <region> <factor>    median regional price ratio to us-east-1
  <kind> <key> <unit> <source> <usd per region column, or ->

Kinds: ec2 (instance type, Linux on-demand per hour), rds (engine/class/single-az|multi-az per
hour), rds-storage (AWS's storage label), ebs / ebs-iops / ebs-throughput (volume type; throughput
per MiBps-month), elasticache (engine/node type per hour), unit (named unit prices).
The same (kind, key, region) filled twice is an error: every cell has exactly one source.
"""
import json
import sys

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]

# EBS labels -> (kind, volume type, unit, divisor). Throughput is priced per GiBps-month in the
# source; opsdeck prices per MiBps-month (what CloudFormation's Throughput property says).
EBS = {
    "Storage General Purpose gp2 GB Mo": ("ebs", "gp2", "gb-month", 1),
    "Storage General Purpose gp3 GB Mo": ("ebs", "gp3", "gb-month", 1),
    "Storage Provisioned IOPS io1 GB Mo": ("ebs", "io1", "gb-month", 1),
    "Storage Provisioned IOPS io2 GB month": ("ebs", "io2", "gb-month", 1),
    "Storage Throughput Optimized HDD st1 GB Mo": ("ebs", "st1", "gb-month", 1),
    "Storage Cold HDD sc1 GB Mo": ("ebs", "sc1", "gb-month", 1),
    "Storage Snapshot Amazon S3 GB Mo": ("ebs", "snapshot", "gb-month", 1),
    "Provisioned EBS IOPS gp3 Volumes per IOPS Mo": ("ebs-iops", "gp3", "iops-month", 1),
    "Provisioned EBS IOPS io1 Volumes per IOPS Mo": ("ebs-iops", "io1", "iops-month", 1),
    "Provisioned EBS IOPS io2 Volumes per IOPS Mo": ("ebs-iops", "io2", "iops-month", 1),
    "Provisioned Throughput gp3 per GiBps mo": ("ebs-throughput", "gp3", "mibps-month", 1024),
}

# The unit of each named unit price, from its name's ending.
UNIT_SUFFIXES = [
    ("_gb_month", "gb-month"), ("_gb_second_x86", "gb-second"), ("_gb_second_arm", "gb-second"),
    ("_gb_processed", "gb"), ("_gb_scanned", "gb"), ("_per_10k", "10k-requests"),
    ("_per_1k", "1k-requests"), ("_per_1m", "1m-requests"), ("_hour", "hour"),
    ("_month", "month"), ("_gb", "gb"),
]

SOURCES = {
    "ec2": "EC2 Linux on-demand, AWS pricing-page JSON (yeo/ec2.shop, MIT)",
    "karpenter": "EC2 us-east-1 on-demand, aws/karpenter-provider-aws generated pricing (Apache-2.0)",
    "rds": "RDS PostgreSQL/MySQL instances and storage, AWS pricing-page JSON (yeo/ec2.shop, MIT)",
    "ebs": "EBS volumes, IOPS and throughput, AWS pricing-page JSON (yeo/ec2.shop, MIT)",
    "elasticache": "ElastiCache nodes, AWS pricing-page JSON (yeo/ec2.shop, MIT)",
    "services": "unit list prices from public cost-estimation test outputs (Apache-2.0)",
}


def unit_of(name):
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    raise SystemExit(f"no unit for unit price {name!r}: add its suffix to UNIT_SUFFIXES")


def main(data):
    cs = json.load(open(f"{data}/aws-prices-compute-storage.json"))
    sv = json.load(open(f"{data}/aws-prices-services-us-east-1.json"))
    rows = {}

    def put(kind, key, unit, src, region, usd):
        cells = rows.setdefault((kind, key), {"unit": unit, "cells": {}})
        if cells["unit"] != unit:
            raise SystemExit(f"{kind} {key}: unit {unit} against {cells['unit']}")
        if region in cells["cells"]:
            raise SystemExit(f"{kind} {key} {region}: filled twice")
        cells["cells"][region] = (src, usd)

    for itype, by_region in cs["ec2_linux_hourly"].items():
        for region, usd in by_region.items():
            if region != "us-east-1":
                put("ec2", itype, "hour", "ec2", region, usd)
        # us-east-1 from the newer source.
        put("ec2", itype, "hour", "karpenter", "us-east-1", cs["ec2_us_east_1_karpenter"][itype])
    for engine, classes in cs["rds_hourly"].items():
        for cls, by_region in classes.items():
            for region, deployments in by_region.items():
                for deployment, usd in deployments.items():
                    key = f"{engine}/{cls}/{deployment.replace('_', '-')}"
                    put("rds", key, "hour", "rds", region, usd)
    for region, labels in cs["rds_storage_gb_month"].items():
        for label, usd in labels.items():
            if label.startswith("Database Storage"):
                unit = "gb-month"
            elif "Throughput" in label:
                unit = "mibps-month"
            else:
                unit = "iops-month"
            put("rds-storage", label, unit, "rds", region, usd)
    for region, labels in cs["ebs"].items():
        for label, usd in labels.items():
            if label in EBS:
                kind, key, unit, divisor = EBS[label]
                put(kind, key, unit, "ebs", region, round(usd / divisor, 10))
    for node, by_region in cs["elasticache_hourly"].items():
        for region, engines in by_region.items():
            for engine, usd in engines.items():
                put("elasticache", f"{engine.lower()}/{node}", "hour", "elasticache", region, usd)
    for name, usd in sv["prices"].items():
        known = sv.get("regional_known", {}).get(name, {})
        if "*" in known:
            # The same everywhere: one exact cell for every region.
            put("unit", name, unit_of(name), "services", "*", known["*"])
            continue
        put("unit", name, unit_of(name), "services", "us-east-1", usd)
        for region, regional in known.items():
            put("unit", name, unit_of(name), "services", region, regional)

    columns = REGIONS + ["*"]
    out = sys.stdout
    out.write("# opsdeck price catalogue v1 - generated by scripts/gen_prices.py; do not edit\n")
    out.write("#regions\t" + "\t".join(columns) + "\n")
    for src, date in sorted(cs["sources"].items()):
        out.write(f"#source\t{src}\t{date[:10]}\t{SOURCES[src]}\n")
    out.write(f"#source\tservices\t{sv['as_of']}\t{SOURCES['services']}\n")
    for region, factor in sv["region_multipliers_median"].items():
        out.write(f"#multiplier\t{region}\t{factor}\n")
    for (kind, key), row in sorted(rows.items()):
        sources = sorted({src for src, _ in row["cells"].values()})
        # One source per row: a row whose cells come from two sources is split in two.
        for src in sources:
            cells = []
            for region in columns:
                cell = row["cells"].get(region)
                cells.append(repr(cell[1]) if cell and cell[0] == src else "-")
            out.write("\t".join([kind, key, row["unit"], src] + cells) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
