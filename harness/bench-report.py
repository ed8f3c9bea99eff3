#!/usr/bin/env python3
"""Turn the measurements of one `make bench` run into bench/results.json,
and bench/results.md and the plots' data from that file alone.

Usage: bench-report.py OUTDIR MACHINE FULL SECONDS BOOTS
       bench-report.py --compare A.json B.json

Reads OUTDIR/bench.txt ("SECTION key=value ..." lines from the guests) and
OUTDIR/raw/{reclaim,flush,resident}.csv (the guests' "# CSV" lines), and
writes OUTDIR/results.json: every row with its unit, the per-mode medians
and spreads, the ratio with its interval, the target and the verdict.
Then reads that file back and writes OUTDIR/results.md and the data of the
plots (OUTDIR/{reclaim,resident,ratios}.csv). Nothing is typed in: every
figure is computed from the guests' lines.

The run boots the benchmark job BOOTS times; boot K's round R is round
K*100+R here. Ratios of modes measured in the same round (interleaved, the
order alternating) are per round; a row pools the rounds of every boot,
and its interval is their min to max, so it takes in the differences
between boots as well as within one. A ratio of two kernels (the fault
hook against the kernel without it), whose boots alternate, is the ratio
of the medians of all rounds; its interval is the min to max of the
ratios of one boot's median to another's, over every pair of boots (with
one boot of each, a bootstrap 95 % interval of the rounds instead). A
target is met when the whole interval is on its side, missed when the
whole interval is on the other side, and inconclusive when the interval
straddles it.

--compare prints, for every ratio of A, whether it lies inside B's interval
and B's inside A's: two runs agree when every ratio does.
"""
import csv
import datetime
import json
import os
import random
import sys


def median(v):
    v = sorted(v)
    n = len(v)
    return (v[n // 2] + v[(n - 1) // 2]) / 2 if n else None


def spread(values):
    values = [float(x) for x in values if x is not None]
    if not values:
        return None
    return {"median": median(values), "min": min(values), "max": max(values),
            "n": len(values), "values": values}


def judge(ratio, target):
    if target is None or ratio is None:
        return "no target"
    lo, hi, v = ratio["lo"], ratio["hi"], target["value"]
    if target["op"] == "<=":
        return "met" if hi <= v else "missed" if lo > v else "inconclusive"
    return "met" if lo >= v else "missed" if hi < v else "inconclusive"


def paired(per_round, what):
    """per_round: {round: the ratio of that round}; min-max interval."""
    r = {i: x for i, x in per_round.items() if x is not None}
    if not r:
        return None
    v = list(r.values())
    return {"of": what, "median": median(v), "lo": min(v), "hi": max(v),
            "interval": "min-max of %d rounds in %d boots" % (len(v), len({i // 100 for i in r})),
            "values": v}


def across_boots(a, b, what):
    """a, b: {round: value} of two kernels' boots; see the docstring above."""
    by = lambda d: {k: [v for i, v in d.items() if i // 100 == k] for k in {i // 100 for i in d}}
    ba, bb = by(a), by(b)
    if len(ba) < 2 or len(bb) < 2:
        return unpaired(list(a.values()), list(b.values()), what)
    r = [median(x) / median(y) for x in ba.values() for y in bb.values()]
    return {"of": what, "median": median(list(a.values())) / median(list(b.values())),
            "lo": min(r), "hi": max(r),
            "interval": "min-max of the %d ratios of a boot's median to another's (%d and %d boots)"
            % (len(r), len(ba), len(bb))}


def unpaired(a, b, what, seed=1):
    """median(a) / median(b), bootstrap 95 % interval."""
    if not a or not b:
        return None
    rng = random.Random(seed)
    boot = sorted(median(rng.choices(a, k=len(a))) / median(rng.choices(b, k=len(b)))
                  for _ in range(10000))
    return {"of": what, "median": median(a) / median(b), "lo": boot[249],
            "hi": boot[9749], "interval": "bootstrap 95 %% (%d and %d runs)" %
            (len(a), len(b))}


def collect(out, machine, full, seconds):
    lines = []
    with open(os.path.join(out, "bench.txt")) as f:
        for line in f:
            parts = line.split()
            if parts:
                lines.append((parts[0], dict(p.split("=", 1) for p in parts[1:] if "=" in p)))

    def find(section, **match):
        return [kv for sec, kv in lines
                if sec == section and all(kv.get(k) == v for k, v in match.items())]

    def by_round(section, **match):
        return {int(kv["round"]): kv for kv in find(section, **match) if "round" in kv}

    def raw_csv(name):
        path = os.path.join(out, "raw", name + ".csv")
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            return [r for r in csv.reader(fh) if r]

    rows = []

    def row(name, section, title, unit, modes, ratio=None, target=None, note=None):
        rows.append({"name": name, "section": section, "title": title, "unit": unit,
                     "modes": modes, "ratio": ratio, "target": target,
                     "verdict": judge(ratio, target), "note": note})

    # 1. Bind
    for size, mode in (("64G", "ondemand"), ("64G", "ram"), ("64G", "pmem"),
                       ("1T", "ondemand"), ("1T", "pmem")):
        rs = find("bind", size=size, mode=mode)
        if not rs:
            continue
        modes = {k: spread([float(r[k]) for r in rs]) for k in
                 ("bind_ns", "memmap_kb", "memfree_kb", "pmem_kb", "od_kb")}
        row("bind.%s.%s" % (size, mode), "bind", "bind %s %s" % (size, mode),
            "ns, kB", modes)
    od64, dev64 = by_round("bind", size="64G", mode="ondemand"), by_round("bind", size="64G", mode="pmem")
    ram64 = by_round("bind", size="64G", mode="ram")
    od1t, dev1t = by_round("bind", size="1T", mode="ondemand"), find("bind", size="1T", mode="pmem")
    for name, mode, label, by in (("bind.64G.speedup", "ondemand", "on-demand", od64),
                                  ("bind.64G.ram_speedup", "ram", "map=mem", ram64)):
        rr = sorted(set(by) & set(dev64))
        row(name, "bind", "64 GiB bind, map=dev time / %s time" % label, "x",
            {mode: spread([by[i]["bind_ns"] for i in rr]),
             "pmem": spread([dev64[i]["bind_ns"] for i in rr])},
            paired({i: float(dev64[i]["bind_ns"]) / float(by[i]["bind_ns"]) for i in rr},
                   "map=dev / %s" % label))
    if dev1t:
        d = float(dev1t[0]["bind_ns"])
        per = {i: d / float(r["bind_ns"]) for i, r in od1t.items()}
        how = ("map=dev at 1 TiB measured in this run (one bind, in the first boot), "
               "set against each on-demand bind")
    else:
        rr = sorted(set(od1t) & set(dev64))
        per = {i: 16 * float(dev64[i]["bind_ns"]) / float(od1t[i]["bind_ns"]) for i in rr}
        how = ("map=dev at 1 TiB not run: 16 x map=dev at 64 GiB of the same round "
               "(it is linear in the size); `FULL=1` measures it")
    row("bind.1T.speedup", "bind", "1 TiB bind, map=dev time / on-demand time", "x",
        {"ondemand": spread([r["bind_ns"] for r in od1t.values()])},
        paired(per, "map=dev / ondemand"), {"op": ">=", "value": 1000}, how)
    res = [float(r["od_kb"]) + float(r["memmap_kb"]) for r in od1t.values()]
    row("bind.1T.resident", "bind", "memmap after a 1 TiB on-demand bind (resident + DRAM memmap)",
        "kB", {"ondemand": spread(res)},
        {"of": "kB", "median": median(res), "lo": min(res), "hi": max(res),
         "interval": "min-max of %d binds" % len(res)} if res else None,
        {"op": "<=", "value": 1024})

    # 2. Fault
    fa, on, off = by_round("fault"), by_round("anon", key="on"), by_round("anon", key="off")
    nood = {i: float(r["ns"]) for i, r in by_round("anon", key="nokconfig").items() if r.get("ns")}
    whole = {i: (float(r["cold_ns"]) - float(r["warm_ns"])) / int(r["faults"])
             for i, r in fa.items() if int(r["faults"])}
    rr = sorted(set(whole) & set(on))
    row("fault.whole_vs_anon", "fault",
        "whole fault-in as the accessor sees it / first-touch anonymous fault", "ns per fault",
        {"ondemand": spread([whole[i] for i in rr]), "anon": spread([on[i]["ns"] for i in rr])},
        paired({i: whole[i] / float(on[i]["ns"]) for i in rr}, "ondemand / anon"),
        {"op": "<=", "value": 1.0})
    row("fault.handler_vs_anon", "fault", "fault handler p50 / first-touch anonymous fault",
        "ns", {"handler_p50": spread([fa[i]["p50"] for i in rr]),
               "anon": spread([on[i]["ns"] for i in rr])},
        paired({i: float(fa[i]["p50"]) / float(on[i]["ns"]) for i in rr}, "handler p50 / anon"))
    split = {k: spread([fa[i][k] for i in fa]) for k in
             ("p50", "p90", "p99", "max", "init_p50", "table_p50", "tables", "n", "faults")}
    split["install_p50"] = spread([float(fa[i]["p50"]) - float(fa[i]["init_p50"]) for i in fa])
    split["whole"] = spread(list(whole.values()))
    row("fault.split", "fault", "fault handler time and its parts", "ns", split)
    rr = sorted(set(on) & set(off))
    row("hook.registered", "hook", "anonymous fault, a 1 TiB range registered / none", "ns per fault",
        {"on": spread([on[i]["ns"] for i in rr]), "off": spread([off[i]["ns"] for i in rr])},
        paired({i: float(on[i]["ns"]) / float(off[i]["ns"]) for i in rr}, "registered / none"))
    row("hook.kconfig", "hook", "anonymous fault, CONFIG_VMEMMAP_ON_DEMAND=y (no range) / =n",
        "ns per fault", {"y": spread([off[i]["ns"] for i in off]), "n": spread(nood.values())},
        across_boots({i: float(off[i]["ns"]) for i in off}, nood, "=y / =n"))

    # 3. Hot path
    oo, ou = by_round("ops", mode="ondemand"), by_round("ops", mode="upfront")
    rr = sorted(set(oo) & set(ou))
    rate = lambda r: float(r["ops"]) / (float(r["ns"]) / 1e9)
    row("hot.ops", "hot", "driver struct page ops over 1 GiB, on demand / upfront", "ops/s",
        {"ondemand": spread([rate(oo[i]) for i in rr]), "upfront": spread([rate(ou[i]) for i in rr])},
        paired({i: rate(oo[i]) / rate(ou[i]) for i in rr}, "ondemand / upfront"),
        {"op": ">=", "value": 0.98},
        "faults during the measured on-demand runs: %d" % sum(int(oo[i]["faults"]) for i in rr))
    fo, fr = by_round("fio", mode="ondemand"), by_round("fio", mode="ram")
    rr = sorted(i for i in set(fo) & set(fr) if float(fr[i]["kib_s"]))
    row("hot.fio", "hot", "fio DAX + O_DIRECT, on demand / map=mem", "KiB/s",
        {"ondemand": spread([fo[i]["kib_s"] for i in rr]), "ram": spread([fr[i]["kib_s"] for i in rr])},
        paired({i: float(fo[i]["kib_s"]) / float(fr[i]["kib_s"]) for i in rr}, "ondemand / map=mem"),
        {"op": ">=", "value": 0.98})

    # 4. Reclaim: the working-set sweep (one run each), and per round of 5.
    sweep = []
    for r in raw_csv("reclaim"):
        pat, x, ws, acc, t, faults, rec, shoot, tp_pages, tp_ns = r
        sweep.append({"pattern": "uniform" if pat == "random" else pat, "ws_x": float(x),
                      "ws_pages": int(ws), "accesses": int(acc), "ns": float(t),
                      "faults": int(faults), "reclaimed": int(rec), "shootdowns": int(shoot),
                      "tp_pages": int(tp_pages), "tp_ns": float(tp_ns)})
    pps = [s["reclaimed"] / s["shootdowns"] for s in sweep if s["shootdowns"]]
    row("reclaim.pages_per_shootdown", "reclaim", "pages per TLB shootdown under pressure",
        "pages", {"sweep": spread(pps)},
        {"of": "pages", "median": median(pps), "lo": min(pps), "hi": max(pps),
         "interval": "min-max of %d working sets" % len(pps)} if pps else None,
        {"op": ">=", "value": 32})
    flush = {}
    for r in raw_csv("flush"):
        rnd, mode, t, b, p, tb, d, fl, fp50 = r
        flush.setdefault(int(rnd), {})[mode] = {
            "ns": float(t), "batches": int(b), "pages": int(p), "full_batches": int(tb),
            "tp_ns": float(d), "flush_ns": float(fl), "fault_p50": float(fp50)}
    full_r = {i: v["full"] for i, v in flush.items() if "full" in v and v["full"]["pages"]}
    per_page = {i: m["tp_ns"] / m["pages"] for i, m in full_r.items()}
    row("reclaim.per_page_vs_fault", "reclaim",
        "reclaim per reclaimed page / fault handler p50, same run", "ns",
        {"reclaim_per_page": spread(per_page.values()),
         "of_which_shootdown": spread([m["flush_ns"] / m["pages"] for m in full_r.values()]),
         "fault_p50": spread([m["fault_p50"] for m in full_r.values()])},
        paired({i: per_page[i] / full_r[i]["fault_p50"] for i in full_r if full_r[i]["fault_p50"]},
               "reclaim per page / fault p50"),
        {"op": "<=", "value": 0.25})
    rr = sorted(i for i, v in flush.items() if "full" in v and "pages" in v)
    for key, title, unit, fn in (
            ("shootdown", "shootdown per batch, page by page / full flush", "ns per batch",
             lambda m: m["flush_ns"] / m["batches"] if m["batches"] else None),
            ("per_page", "reclaim per page, page by page / full flush", "ns per page",
             lambda m: m["tp_ns"] / m["pages"] if m["pages"] else None),
            ("accesses", "driver accesses/s, page by page / full flush", "accesses/s",
             lambda m: 20000 / (m["ns"] / 1e9) if m["ns"] else None)):
        ok = [i for i in rr if fn(flush[i]["full"]) and fn(flush[i]["pages"])]
        row("flush." + key, "flush", title, unit,
            {"full": spread([fn(flush[i]["full"]) for i in ok]),
             "pages": spread([fn(flush[i]["pages"]) for i in ok])},
            paired({i: fn(flush[i]["pages"]) / fn(flush[i]["full"]) for i in ok}, "pages / full"))

    # 6. Large binds
    for r in find("big"):
        row("big.%s" % r["size"], "big", "on-demand bind of %s (%s nvdimms of 1 TiB)" %
            (r["size"], r["nvdimms"]), "ns, kB",
            {k: spread([r[k]]) for k in ("bind_ns", "memmap_kb", "memfree_kb", "od_kb")})

    resident = [[float(x) for x in r] for r in raw_csv("resident")]
    profiles = {}
    for kv in find("profile"):
        profiles.setdefault(kv["what"], []).append(
            {"pct": float(kv["pct"]), "comm": kv["comm"], "sym": kv["sym"]})
    return {
        "profiles": profiles,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine, "full": full, "seconds": seconds,
        "kernel": "Linux 6.12.117 with patches/, kernel/configs/vmemmap_od_bench.config",
        "rows": rows,
        "series": {"reclaim": sweep, "flush": flush, "resident": resident},
    }


def profile(p, d, what, intro):
    rows = d.get("profiles", {}).get(what)
    if not rows:
        return
    p(intro)
    p()
    p("| share of samples | task | function |")
    p("|---:|---|---|")
    for r in rows:
        p("| %.1f %% | %s | `%s` |" % (r["pct"], r["comm"], r["sym"]))
    p()


def render(out, d):
    rows = {r["name"]: r for r in d["rows"]}
    lines = []
    p = lambda s="": lines.append(s)

    def m(name, mode, key="median", scale=1.0, fmt="%.1f"):
        r = rows.get(name)
        v = r and r["modes"].get(mode)
        return fmt % (v[key] / scale) if v else "-"

    def rat(name, fmt="%.3f"):
        r = rows.get(name)
        x = r and r["ratio"]
        if not x:
            return "-", "-"
        return fmt % x["median"], (fmt + " - " + fmt) % (x["lo"], x["hi"])

    def verdict(name):
        v = rows[name]["verdict"] if name in rows else "-"
        return "**%s**" % v if v in ("missed", "inconclusive") else v

    def kb(v):
        return "%.1f GiB" % (v / (1 << 20)) if v >= 1 << 20 else \
            "%.1f MiB" % (v / 1024) if v >= 1024 else "%d kB" % v

    p("# On-demand vmemmap: benchmark results")
    p()
    p("Made by `make bench` (`FULL=%d`) on %s, in %d min. Generated from "
      "`results.json`, which holds every row below with its per-mode spread, "
      "ratio, interval, target and verdict." % (1 if d["full"] else 0, d["generated"],
                                              round(d["seconds"] / 60)))
    p()
    p("Host: %s. Guest: QEMU TCG (no KVM on this host), 2 vCPUs, 2 GiB of RAM, "
      "emulated pmem (sparse files). Kernel: %s: the test kernel's "
      "debugging (lockdep, DEBUG_VM, DEBUG_ATOMIC_SLEEP, KUnit, fault injection) off, "
      "and Debian 12's options for 6.12 on (voluntary preemption with "
      "PREEMPT_DYNAMIC, HZ=250, mitigations, KASLR, init_on_alloc, KFENCE); the "
      "fault-hook row also boots it with `CONFIG_VMEMMAP_ON_DEMAND=n`." % (d["machine"], d["kernel"]))
    p()
    p("How to read it: modes that are compared run interleaved in one boot, "
      "7 rounds, the order alternating (A B, B A, ...), and the benchmark job "
      "boots %d times (the kernel without the feature as often, the boots "
      "alternating); each round gives a ratio, and a row shows the median of "
      "the rounds' ratios of all boots and their min - max, which takes in the "
      "differences between boots too (they are larger than those within one). "
      "A ratio of two kernels is the ratio of the medians of all their rounds, "
      "its interval the min - max of the ratios of one boot's median to "
      "another's, over every pair of boots. A target is met when the whole "
      "interval is on its side, missed when it is all on the other, else "
      "inconclusive. Under TCG absolute times mean little; the ratios are the "
      "result." % d.get("boots", 1))
    p()

    p("## Targets")
    p()
    p("| row | target | ratio (median) | interval | verdict |")
    p("|---|---|---:|---:|---|")
    for r in d["rows"]:
        if r["target"]:
            big = r["ratio"] and r["ratio"]["median"] >= 100
            a, b = rat(r["name"], "%.0f" if big else "%.3f")
            p("| %s | %s %s | %s | %s | %s |" % (r["title"], r["target"]["op"],
                                               r["target"]["value"], a, b, verdict(r["name"])))
    p()

    p("## 1. Bind cost")
    p()
    p("An fsdax namespace is created and bound through sysfs (`harness/guest/ndns`); the "
      "bind is one `write(2)` to the driver's `bind` file, timed by `timed_write`. DRAM "
      "memmap is the growth of `nr_memmap_pages`; device is the namespace space not "
      "available for data (info block, padding and, for map=dev, the memmap); "
      "on-demand resident is the growth of `resident_kb`. Medians of %d binds (7 in "
      "each boot)." % rows["bind.64G.ondemand"]["modes"]["bind_ns"]["n"])
    p()
    p("| size | mode | bind time | DRAM memmap | MemFree drop | device | on-demand resident |")
    p("|---|---|---:|---:|---:|---:|---:|")
    for size in ("64G", "1T"):
        for mode, label in (("ondemand", "on demand"), ("ram", "map=mem"), ("pmem", "map=dev")):
            r = rows.get("bind.%s.%s" % (size, mode))
            if not r:
                continue
            v = r["modes"]
            p("| %s | %s | %.1f ms (%.1f - %.1f) | %s | %s | %s | %s |" % (
                size, label, v["bind_ns"]["median"] / 1e6, v["bind_ns"]["min"] / 1e6,
                v["bind_ns"]["max"] / 1e6, kb(v["memmap_kb"]["median"]),
                kb(v["memfree_kb"]["median"]), kb(v["pmem_kb"]["median"]), kb(v["od_kb"]["median"])))
    if "bind.1T.pmem" not in rows:
        p("| 1T | map=dev | not run (`FULL=1`) | | | | |")
    p()
    p("| ratio | median | min - max |")
    p("|---|---:|---:|")
    for name in ("bind.64G.speedup", "bind.64G.ram_speedup", "bind.1T.speedup"):
        a, b = rat(name, "%.0f")
        p("| %s | %sx | %s |" % (rows[name]["title"], a, b))
    p()
    p("1 TiB: %s." % rows["bind.1T.speedup"]["note"])
    big = [r for r in d["rows"] if r["section"] == "big"]
    if big:
        p()
        p("Larger devices, on demand only (one boot with 64 nvdimms of 1 TiB, "
          "physical addresses up to 2^48; the first 8 namespaces bound, then all 64; "
          "the last struct page of the last one read through the test driver):")
        p()
        p("| size | binds, total time | DRAM memmap | MemFree drop | on-demand resident |")
        p("|---|---:|---:|---:|---:|")
        for r in big:
            v = r["modes"]
            p("| %s | %.0f ms | %s | %s | %s |" % (
                r["name"][4:], v["bind_ns"]["median"] / 1e6, kb(v["memmap_kb"]["median"]),
                kb(v["memfree_kb"]["median"]), kb(v["od_kb"]["median"])))
    p()

    p("## 2. Fault-in")
    p()
    p("The test driver (`lib/test_vmemmap_od.c`, its `fault` context) touches 20000 "
      "random struct pages of a fresh 1 TiB on-demand range, each in a vmemmap page "
      "of its own, so the fault handler populates each from the per-CPU reserve "
      "(topped up with `vmemmap_od_preload()` between pairs of accesses); the same "
      "accesses are then repeated, resident. (cold - warm) / faults is the whole "
      "fault as the accessor sees it: exception entry and exit, the handler and "
      "the reserve's refill. The handler's time and its parts come from a third "
      "run on another fresh range, with `perf record -e vmemmap_od:vmemmap_od_fault` "
      "(not timed: recording costs the accessor too). The yardstick: `fault_bench`, first-touch writes to "
      "anonymous memory, one fault per 4 KiB page (16384 per round), in the same "
      "round, with the range registered.")
    p()
    p("| measure | median of the rounds | min - max |")
    p("|---|---:|---:|")
    s = rows["fault.split"]["modes"]
    for key, label in (("whole", "whole fault, accessor's view"),
                       ("p50", "handler p50 (tracepoint `duration_ns`)"),
                       ("init_p50", "of which the 64 struct pages' init, p50 (`init_ns`)"),
                       ("install_p50", "of which the rest (install, accounting), p50 - init p50"),
                       ("table_p50", "a PTE table's install when one was needed, p50 (`table_ns`)"),
                       ("p90", "handler p90"), ("p99", "handler p99"), ("max", "handler max")):
        if s.get(key):
            p("| %s | %.2f us | %.2f - %.2f |" % (label, s[key]["median"] / 1e3,
                                                s[key]["min"] / 1e3, s[key]["max"] / 1e3))
    a = rows["fault.whole_vs_anon"]["modes"]["anon"]
    p("| first-touch anonymous fault | %.2f us | %.2f - %.2f |" % (
        a["median"] / 1e3, a["min"] / 1e3, a["max"] / 1e3))
    if s.get("tables"):
        p("| PTE tables installed per round / faults recorded by perf | %d / %d | |" % (
            s["tables"]["median"], s["n"]["median"]))
    p()
    p("| ratio | median | min - max | target | verdict |")
    p("|---|---:|---:|---|---|")
    for name in ("fault.whole_vs_anon", "fault.handler_vs_anon"):
        a, b = rat(name)
        t = rows[name]["target"]
        p("| %s | %s | %s | %s | %s |" % (rows[name]["title"], a, b,
                                        "%s %s" % (t["op"], t["value"]) if t else "",
                                        verdict(name)))
    profile(p, d, "fault", "Where a fault-in's time goes: one more run of the same "
            "20000 accesses on a fresh range under `perf record -e cpu-clock -a` "
            "(software clock, 4000 samples/s, both vCPUs), the costliest functions, "
            "idle left out:")
    p()
    p("The fault hook's cost to every other fault: user faults never reach it (it "
      "sits in the kernel-address branch of the x86 fault handler).")
    p()
    p("| ratio | median | interval |")
    p("|---|---:|---:|")
    for name in ("hook.registered", "hook.kconfig"):
        a, b = rat(name)
        p("| %s | %s | %s (%s) |" % (rows[name]["title"], a, b, rows[name]["ratio"]["interval"]
                                     if rows[name]["ratio"] else ""))
    p()

    p("## 3. Hot path, memmap populated")
    p()
    p("Driver: its `direct` context, as a consumer makes its accesses (`pfn_to_page()`, "
      "a reference get/put and a flag set/clear, nothing checked first), 100000 at random "
      "over a 1 GiB range, best of 3 per round; on demand after a pass that populates "
      "every vmemmap page (4 KiB mappings), against the same range with its memmap up "
      "front (2 MiB mappings). fio: 64 KiB `O_DIRECT` random reads from a RAM-disk file "
      "into a `MAP_SHARED` buffer on an fsdax file (every read pins the DAX pages with "
      "GUP), 3 s per round; both namespaces bound at once, 1 TiB on demand and 64 GiB "
      "map=mem. Under TCG, QEMU's software TLB holds 4 KiB entries whatever the guest's "
      "page size, so the 4 KiB vmemmap mappings' TLB cost on a real CPU does not show "
      "here.")
    p()
    p("| workload | on demand (median) | upfront (median) | ratio | min - max | target | verdict |")
    p("|---|---:|---:|---:|---:|---|---|")
    for name, om, um in (("hot.ops", "ondemand", "upfront"), ("hot.fio", "ondemand", "ram")):
        if name not in rows:
            continue
        a, b = rat(name)
        p("| %s (%s) | %s | %s | %s | %s | >= %s | %s |" % (
            rows[name]["title"], rows[name]["unit"], m(name, om, fmt="%.0f"),
            m(name, um, fmt="%.0f"), a, b, rows[name]["target"]["value"], verdict(name)))
    if rows.get("hot.ops", {}).get("note"):
        p()
        p("%s." % rows["hot.ops"]["note"].capitalize())
    p()

    p("## 4. Reclaim")
    p()
    p("Budget 4 MiB. Working sets of 0.5 to 8 times it (vmemmap pages of a 4 TiB range): "
      "a populating pass, then 40000 accesses from one thread, uniform or Zipf (s = 1), "
      "timed, with the reclaim tracepoint recorded (one run each).")
    p()
    p("| pattern | WS / budget | accesses/s | faults/access | reclaimed | pages/shootdown | reclaim us/page |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for s in d["series"]["reclaim"]:
        p("| %s | %g | %.0f | %.3f | %d | %s | %s |" % (
            s["pattern"], s["ws_x"], s["accesses"] / (s["ns"] / 1e9), s["faults"] / s["accesses"],
            s["reclaimed"], "%.1f" % (s["reclaimed"] / s["shootdowns"]) if s["shootdowns"] else "-",
            "%.1f" % (s["tp_ns"] / s["tp_pages"] / 1e3) if s["tp_pages"] else "-"))
    p()
    p("![throughput against working set](reclaim_throughput.png)")
    p()
    p("![resident_kb over time](resident.png)")
    p()
    r = rows["reclaim.per_page_vs_fault"]
    a, b = rat(r["name"])
    p("Cost per reclaimed page against a fault-in, 7 rounds a boot (uniform, working set 4x the "
      "budget, 20000 accesses, the full-flush rounds of section 5; both tracepoints "
      "recorded in the same run): reclaim %s us per page (of which the shootdown %s us), "
      "fault handler p50 %s us; ratio %s (%s): %s." % (
          m(r["name"], "reclaim_per_page", scale=1e3, fmt="%.2f"),
          m(r["name"], "of_which_shootdown", scale=1e3, fmt="%.2f"),
          m(r["name"], "fault_p50", scale=1e3, fmt="%.2f"), a, b, verdict(r["name"])))
    p()

    profile(p, d, "reclaim", "Where reclaim's time goes: 20000 uniform accesses over "
            "4x the budget (full flush) under `perf record -e cpu-clock -a`, the "
            "costliest functions, idle left out (the reclaimer is the "
            "`vmemmap_od` kthread; the accessor's faults are `timed_write`):")
    p("## 5. The batch's TLB shootdown: full flush or page by page")
    p()
    p("A full batch is 64 pages, more than `tlb_single_page_flush_ceiling` (33), so "
      "`flush_tlb_kernel_range()` flushes every CPU's whole TLB for it. With debugfs "
      "`vmemmap_od/flush_pages` set, a batch that parks no PTE table sends the same IPI, "
      "which runs one `flush_tlb_one_kernel()` per parked page instead. Uniform accesses "
      "over 4x the budget, 20000 per round, 7 rounds of each mode a boot, the order alternating.")
    p()
    p("| measure | full flush (median) | page by page (median) | pages / full | min - max |")
    p("|---|---:|---:|---:|---:|")
    for key in ("shootdown", "per_page", "accesses"):
        name = "flush." + key
        a, b = rat(name)
        p("| %s (%s) | %s | %s | %s | %s |" % (rows[name]["title"].split(",")[0], rows[name]["unit"],
                                              m(name, "full"), m(name, "pages"), a, b))
    fl = d["series"]["flush"]
    tb = sum(v["pages"]["full_batches"] for v in fl.values() if "pages" in v)
    ball = sum(v["pages"]["batches"] for v in fl.values() if "pages" in v)
    p()
    p("In page-by-page mode %d of %d batches parked a PTE table and so still made the "
      "full flush." % (tb, ball))
    p()
    p("![ratios with their intervals](ratios.png)")
    p()
    p("Raw data: `bench.txt` (the guests' measurements, one line each); `results.json` "
      "(every row); `reclaim.csv`, `resident.csv` and `ratios.csv` (the plots' data, "
      "written from `results.json`).")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    with open(os.path.join(out, "reclaim.csv"), "w") as f:
        for s in d["series"]["reclaim"]:
            f.write("%s,%g,%d,%d,%.0f,%d,%d,%d,%d,%.0f\n" % (
                s["pattern"], s["ws_x"], s["ws_pages"], s["accesses"], s["ns"], s["faults"],
                s["reclaimed"], s["shootdowns"], s["tp_pages"], s["tp_ns"]))
    with open(os.path.join(out, "resident.csv"), "w") as f:
        for up, kbv, budget in d["series"]["resident"]:
            f.write("%.2f,%d,%d\n" % (up, kbv, budget))
    with open(os.path.join(out, "ratios.csv"), "w") as f:
        i = 0
        for r in d["rows"]:
            x = r["ratio"]
            # Ratios only: not the rows whose target is a size or a count.
            if x and r["target"] and r["target"]["value"] <= 10:
                i += 1
                f.write('%d,"%s",%.4f,%.4f,%.4f,%s\n' % (i, r["name"], x["median"], x["lo"],
                                                        x["hi"], r["target"]["value"]))


def compare(a_path, b_path):
    a, b = (json.load(open(x)) for x in (a_path, b_path))
    rb = {r["name"]: r for r in b["rows"]}
    agree = True
    print("| row | run A: ratio (interval) | run B: ratio (interval) | A in B | B in A |")
    print("|---|---:|---:|---|---|")
    for r in a["rows"]:
        o = rb.get(r["name"])
        x, y = r["ratio"], o and o["ratio"]
        if not x or not y:
            continue
        ab = y["lo"] <= x["median"] <= y["hi"]
        ba = x["lo"] <= y["median"] <= x["hi"]
        agree &= ab and ba
        f = "%.3f (%.3f - %.3f)" if x["median"] < 100 else "%.0f (%.0f - %.0f)"
        print("| %s | %s | %s | %s | %s |" % (r["name"], f % (x["median"], x["lo"], x["hi"]),
                                            f % (y["median"], y["lo"], y["hi"]),
                                            "yes" if ab else "**no**", "yes" if ba else "**no**"))
    print("runs %s" % ("agree" if agree else "do not agree"))
    return 0 if agree else 1


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    out, machine, full, seconds = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
    data = collect(out, machine, full, seconds)
    data["boots"] = int(sys.argv[5])
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "results.json")) as f:
        render(out, json.load(f))
