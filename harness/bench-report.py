#!/usr/bin/env python3
"""Turn the measurements of one `make bench` run into bench/results.md.

Usage: bench-report.py OUTDIR MACHINE FULL

Reads OUTDIR/bench.txt ("SECTION key=value ..." lines from the guests),
OUTDIR/reclaim.csv and OUTDIR/resident.csv, and prints Markdown. Nothing is
typed in: every figure is computed from those files.
"""
import csv
import datetime
import os
import sys

out, machine, full = sys.argv[1], sys.argv[2], sys.argv[3] == "1"


def load():
    rows = []
    with open(os.path.join(out, "bench.txt")) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            rows.append((parts[0], kv))
    return rows


rows = load()


def find(section, **match):
    for sec, kv in rows:
        if sec == section and all(kv.get(k) == v for k, v in match.items()):
            return kv
    return None


def ms(ns):
    return float(ns) / 1e6


def fmt_kb(kb):
    kb = float(kb)
    if kb >= 1 << 20:
        return "%.1f GiB" % (kb / (1 << 20))
    if kb >= 1024:
        return "%.1f MiB" % (kb / 1024)
    return "%d kB" % kb


def verdict(ok):
    return "met" if ok else "**missed**"


targets = []
p = print

p("# On-demand vmemmap: benchmark results")
p()
p("Made by `make bench` (`FULL=%d`) on %s UTC." % (1 if full else 0,
  datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")))
p()
p("Host: %s. Guest: QEMU TCG (no KVM on this host), 2 vCPUs, 2 GiB of RAM, "
  "emulated pmem of 64 GiB and 1 TiB (sparse files). Kernel: Linux 6.12.117 with "
  "`patches/`, the test configuration (lockdep, DEBUG_VM, DEBUG_ATOMIC_SLEEP on), "
  "one kernel for every mode; the fault-hook row also boots the same "
  "configuration with `CONFIG_VMEMMAP_ON_DEMAND=n`. Under TCG absolute times "
  "mean little: every row is also given as a ratio against its upstream "
  "counterpart measured in the same boot." % machine)
p()

# 1. Bind cost
p("## 1. Bind cost")
p()
p("An fsdax namespace is created and bound through sysfs (`harness/guest/ndns`); "
  "the bind is one `write(2)` to the driver's `bind` file, timed by "
  "`timed_write`. DRAM is the growth of `nr_memmap_pages` (and the drop of "
  "MemFree); device is the namespace space not available for data (info "
  "block, padding and, for `pmem`/map=dev, the memmap); on-demand is the "
  "growth of `resident_kb`.")
p()
p("| size | mode | bind time | vs map=dev | DRAM memmap | MemFree drop | device | on-demand resident |")
p("|---|---|---:|---:|---:|---:|---:|---:|")
dev64 = find("bind", size="64G", mode="pmem")
dev1t = find("bind", size="1T", mode="pmem")
for size in ("64G", "1T"):
    dev = dev64 if size == "64G" else dev1t
    for mode, label in (("ondemand", "ondemand"), ("ram", "ram (map=mem)"),
                        ("pmem", "pmem (map=dev)")):
        r = find("bind", size=size, mode=mode)
        if r is None:
            continue
        if r.get("skipped"):
            p("| %s | %s | not run (needs `FULL=1`) | | | | | |" % (size, label))
            continue
        ratio = ""
        if dev and not dev.get("skipped"):
            ratio = "%.0fx faster" % (float(dev["bind_ns"]) / float(r["bind_ns"])) \
                if mode != "pmem" else "1"
        elif size == "1T" and dev64 and mode != "pmem":
            ratio = "~%.0fx faster (vs 16x map=dev at 64G)" % (
                16 * float(dev64["bind_ns"]) / float(r["bind_ns"]))
        p("| %s | %s | %.1f ms | %s | %s | %s | %s | %s |" % (
            size, label, ms(r["bind_ns"]), ratio, fmt_kb(r["memmap_kb"]),
            fmt_kb(r["memfree_kb"]), fmt_kb(r["pmem_kb"]), fmt_kb(r["od_kb"])))
od1t = find("bind", size="1T", mode="ondemand")
if od1t:
    if dev1t and not dev1t.get("skipped"):
        speed = float(dev1t["bind_ns"]) / float(od1t["bind_ns"])
        how = "map=dev at 1 TiB measured in this run"
    else:
        speed = 16 * float(dev64["bind_ns"]) / float(od1t["bind_ns"])
        how = ("map=dev at 1 TiB not run; extrapolated linearly from map=dev "
               "at 64 GiB in this run (x16); `FULL=1` measures it")
    targets.append(("1 TiB bind at least 1000x faster than map=dev",
                    "%.0fx (%s)" % (speed, how), speed >= 1000))
    targets.append(("resident memmap after a 1 TiB bind under 1 MiB",
                    "%s on-demand resident, %s of DRAM memmap" %
                    (fmt_kb(od1t["od_kb"]), fmt_kb(od1t["memmap_kb"])),
                    float(od1t["od_kb"]) + float(od1t["memmap_kb"]) < 1024))
p()

# 2. Fault overhead
f = find("fault")
anon_on = find("anon", key="on")
anon_off = find("anon", key="off")
anon_no = find("anon", key="nokconfig")
p("## 2. Fault overhead")
p()
p("The test driver (`lib/test_vmemmap_od.c`) touches 20000 random struct "
  "pages of a fresh 1 TiB on-demand range from process context (its `fault` "
  "context: no access is populated first, so the fault handler populates "
  "each vmemmap page from its per-CPU reserve, which the driver tops up "
  "with `vmemmap_od_preload()` between pairs of accesses), each in a "
  "vmemmap page of its own, while `perf record -e "
  "vmemmap_od:vmemmap_od_fault -a` records the fault tracepoint; its "
  "`duration_ns` is the time from the fault hook's entry to the page being "
  "mapped. The same 20000 accesses are then repeated with everything "
  "resident: the difference of the two runs, per fault, is the whole cost "
  "of a fault as the accessing code sees it (exception entry and exit "
  "included). The yardstick is `fault_bench`: first-touch writes to "
  "anonymous memory, one fault per 4 KiB page (median of 7 rounds of "
  "16384), in the same guest.")
p()
if f:
    n = int(f["n"])
    cold, warm = float(f["cold_ns"]), float(f["warm_ns"])
    faults = int(f["faults"])
    full_fault = (cold - warm) / faults if faults else 0
    p("| measure | value |")
    p("|---|---:|")
    p("| faults recorded by perf / counted in vmemmap_od_faults | %d / %d |" % (n, faults))
    p("| handler time p50 / p90 / p99 / max | %.1f / %.1f / %.1f / %.1f us |" % (
        float(f["p50"]) / 1e3, float(f["p90"]) / 1e3, float(f["p99"]) / 1e3,
        float(f["max"]) / 1e3))
    p("| faults per second (faults / time of the cold run) | %.0f |" % (faults / (cold / 1e9)))
    p("| whole fault as seen by the accessor ((cold - warm) / faults) | %.1f us |" % (full_fault / 1e3))
    if anon_off:
        a = float(anon_off["ns"])
        p("| first-touch anonymous page fault (fault_bench) | %.1f us |" % (a / 1e3))
        p("| vmemmap fault / anonymous fault (whole) | %.2f |" % (full_fault / a))
        p("| vmemmap fault / anonymous fault (handler p50) | %.2f |" % (float(f["p50"]) / a))
        targets.append(("fault-in of a vmemmap page costs no more than a "
                        "first-touch anonymous fault",
                        "%.2fx (whole fault, accessor's view); %.2fx (handler p50)"
                        % (full_fault / a, float(f["p50"]) / a), full_fault <= a))
p()

# 3. Hot path
p("## 3. Hot path, memmap populated")
p()
p("fio: 64 KiB `O_DIRECT` random reads from a file on a RAM disk into a "
  "`MAP_SHARED` buffer on an fsdax file (`--iomem=mmapshared:`), so every "
  "read pins the DAX pages with GUP; best of three 3-second runs after a "
  "warm-up. Driver: 100000 struct page accesses (reference get/put and a "
  "flag set/clear each) on a 1 GiB range whose memmap is resident, best of "
  "three after a populating pass: on demand against a range with its "
  "memmap up front.")
p()
p("| workload | ondemand | upfront (ram) | ondemand / upfront |")
p("|---|---:|---:|---:|")
fo, fr = find("fio", mode="ondemand"), find("fio", mode="ram")
if fo and fr:
    ratio = float(fo["kib_s"]) / float(fr["kib_s"])
    p("| fio DAX + O_DIRECT, MiB/s | %.1f | %.1f | %.3f |" % (
        float(fo["kib_s"]) / 1024, float(fr["kib_s"]) / 1024, ratio))
    targets.append(("hot path (fio) at least 0.97x of map=mem", "%.3fx" % ratio, ratio >= 0.97))
oo, ou = find("ops", mode="ondemand"), find("ops", mode="upfront")
if oo and ou:
    so = float(oo["ops"]) / (float(oo["ns"]) / 1e9)
    su = float(ou["ops"]) / (float(ou["ns"]) / 1e9)
    p("| driver struct page ops/s | %.0f | %.0f | %.3f |" % (so, su, so / su))
    targets.append(("hot path (driver struct page ops) at least 0.97x of upfront",
                    "%.3fx" % (so / su), so / su >= 0.97))
p()
p("The fault hook's cost to every other fault: `fault_bench` (first-touch "
  "anonymous faults, median of 7 rounds) on the kernel built without the "
  "feature, and on the test kernel with a 1 TiB on-demand range registered "
  "and with none. User faults never reach the hook (it sits in the kernel-"
  "address branch of the x86 fault handler), so this bounds what the "
  "feature costs the rest of the system; differences are TCG noise unless "
  "they repeat.")
p()
p("| kernel | ns per anonymous fault | vs CONFIG_VMEMMAP_ON_DEMAND=n |")
p("|---|---:|---:|")
for label, r in (("CONFIG_VMEMMAP_ON_DEMAND=n", anon_no),
                 ("=y, no on-demand range registered", anon_off),
                 ("=y, a 1 TiB on-demand range registered", anon_on)):
    if r and r.get("ns"):
        rel = "%.3f" % (float(r["ns"]) / float(anon_no["ns"])) if anon_no and anon_no.get("ns") else ""
        p("| %s | %.0f | %s |" % (label, float(r["ns"]), rel))
p()

# 4. Reclaim
p("## 4. Reclaim")
p()
p("Budget 4 MiB (1024 pages, page tables included). For each working set "
  "(0.5 to 8 times the budget, in vmemmap pages of a 4 TiB range) the "
  "driver makes a populating pass, then 40000 accesses from one thread, "
  "uniform or Zipf (s = 1) over the working set's vmemmap pages, timed; "
  "the reclaim tracepoint is recorded with perf meanwhile (`nr_pages` and "
  "`duration_ns` per batch, the batch's TLB shootdown included). Pages per "
  "shootdown is `vmemmap_od_reclaimed / vmemmap_od_shootdowns` over the run.")
p()
p("| pattern | WS / budget | accesses/s | faults/access | reclaimed | shootdowns | pages/shootdown | reclaim us/page | reclaim / fault p50 |")
p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
pps_all, cost_ratio = [], []
with open(os.path.join(out, "reclaim.csv")) as fh:
    for r in csv.reader(fh):
        pat, x, ws, acc, t, faults, rec, shoot, tp_pages, tp_ns = r
        acc, t, faults, rec, shoot = int(acc), float(t), int(faults), int(rec), int(shoot)
        tp_pages, tp_ns = int(tp_pages), float(tp_ns)
        pps = rec / shoot if shoot else 0
        per = tp_ns / tp_pages if tp_pages else 0
        ratio = per / float(f["p50"]) if f and per else 0
        if shoot:
            pps_all.append(pps)
        if per:
            cost_ratio.append(ratio)
        p("| %s | %s | %.0f | %.3f | %d | %d | %s | %s | %s |" % (
            "uniform" if pat == "random" else pat, x, acc / (t / 1e9), faults / acc,
            rec, shoot, "%.1f" % pps if shoot else "-",
            "%.1f" % (per / 1e3) if per else "-", "%.2f" % ratio if ratio else "-"))
p()
p("![throughput against working set](reclaim_throughput.png)")
p()
p("![resident_kb over time](resident.png)")
p()
if pps_all:
    targets.append(("under pressure at least 32 pages per shootdown",
                    "%.1f to %.1f" % (min(pps_all), max(pps_all)), min(pps_all) >= 32))
if cost_ratio:
    worst = max(cost_ratio)
    whole = ""
    if f and int(f["faults"]):
        full_fault = (float(f["cold_ns"]) - float(f["warm_ns"])) / int(f["faults"])
        whole = "; %.2fx to %.2fx of the whole fault" % (
            min(cost_ratio) * float(f["p50"]) / full_fault,
            worst * float(f["p50"]) / full_fault)
    targets.append(("cost per reclaimed page at most 0.25x a fault-in",
                    "%.2fx to %.2fx of the fault handler's p50%s" % (
                        min(cost_ratio), worst, whole), worst <= 0.25))

# 5. The batch's shootdown
flush_csv = os.path.join(out, "flush.csv")
if os.path.exists(flush_csv):
    p("## 5. The batch's TLB shootdown: full flush or page by page")
    p()
    p("A full batch is 64 pages, more than `tlb_single_page_flush_ceiling` "
      "(33), so `flush_tlb_kernel_range()` flushes the whole TLB of every "
      "CPU for it. With debugfs `vmemmap_od/flush_pages` set, a batch that "
      "parks no PTE table sends the same IPI, which runs one "
      "`flush_tlb_one_kernel()` (`INVLPG`, no PTI here) per parked page "
      "instead. Same workload as above (uniform, working set 4x the budget, "
      "20000 accesses after a populating pass), 7 rounds of each mode in "
      "this boot, the order alternating (full first, then pages first); "
      "`flush_ns`, `duration_ns` and `full` of every batch from the reclaim "
      "tracepoint. Ratios are per round (pages / full of the same round); "
      "the interval is the rounds' min to max. Under TCG a flush is QEMU's "
      "software TLB being dropped, whole or page by page: the cost of the "
      "refills that follow a full flush shows, but not a real CPU's.")
    p()
    rounds = {}
    with open(flush_csv) as fh:
        for r in csv.reader(fh):
            rnd, mode, t, batches, pages, tbatches, dur, fl = r
            rounds.setdefault(rnd, {})[mode] = dict(
                t=float(t), b=int(batches), p=int(pages), tb=int(tbatches),
                d=float(dur), f=float(fl))

    def med(v):
        v = sorted(v)
        n = len(v)
        return (v[n // 2] + v[(n - 1) // 2]) / 2 if n else 0

    rows5 = [
        ("shootdown, us per batch", lambda m: m["f"] / m["b"] / 1e3 if m["b"] else None),
        ("reclaim, us per reclaimed page (shootdown included)",
         lambda m: m["d"] / m["p"] / 1e3 if m["p"] else None),
        ("accesses/s of the driver", lambda m: 20000 / (m["t"] / 1e9) if m["t"] else None),
    ]
    p("| measure | full flush (median) | page by page (median) | pages / full: median | min - max |")
    p("|---|---:|---:|---:|---:|")
    for name, fn in rows5:
        a = [fn(v["full"]) for v in rounds.values() if "full" in v and fn(v["full"])]
        b = [fn(v["pages"]) for v in rounds.values() if "pages" in v and fn(v["pages"])]
        rat = [fn(v["pages"]) / fn(v["full"]) for v in rounds.values()
               if "full" in v and "pages" in v and fn(v["full"]) and fn(v["pages"])]
        if not rat:
            p("| %s | - | - | - | - |" % name)
            continue
        p("| %s | %.1f | %.1f | %.3f | %.3f - %.3f |" % (
            name, med(a), med(b), med(rat), min(rat), max(rat)))
    tb = sum(v["pages"]["tb"] for v in rounds.values() if "pages" in v)
    ball = sum(v["pages"]["b"] for v in rounds.values() if "pages" in v)
    p()
    p("In page-by-page mode %d of %d batches parked a PTE table and so "
      "still made the full flush (`full=1`)." % (tb, ball))
    p()

p("## Targets")
p()
p("| target | measured | |")
p("|---|---|---|")
for name, value, ok in targets:
    p("| %s | %s | %s |" % (name, value, verdict(ok)))
p()
p("Raw data: `bench.txt` (one line per measurement), `reclaim.csv` (pattern, "
  "WS/budget, WS pages, accesses, ns, faults, reclaimed, shootdowns, "
  "tracepoint pages, tracepoint ns), `flush.csv` (round, mode, ns, batches, "
  "pages, batches flushed whole, tracepoint ns, flush ns), `resident.csv` "
  "(uptime, resident_kb, budget_kb).")
