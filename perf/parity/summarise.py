#!/usr/bin/python3
"""Writes perf/results/parity.md from the JSON files perf/parity/run.sh leaves in perf/results/parity/.

Usage: summarise.py RESULTS_DIR OUT.md. Text below the line `<!-- notes -->` of an existing OUT.md is kept (the notes
written by hand about a run); everything above it is regenerated.
"""
import glob
import json
import os
import platform
import re
import statistics
import sys

res, out = sys.argv[1], sys.argv[2]
MARK = "<!-- notes -->"


def cpu():
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or "unknown"
    flags = info.get("flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}), {isa}"


def load(name):
    path = os.path.join(res, name)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        return json.load(f)


def seeds_of(pattern):
    found = set()
    for p in glob.glob(os.path.join(res, pattern.replace("{s}", "*"))):
        m = re.search(r"-s(\d+)", os.path.basename(p))
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def spread(xs, digits=4):
    if not xs:
        return "–"
    m = statistics.mean(xs)
    if len(xs) == 1:
        return f"{m:.{digits}f} (n=1)"
    return f"{m:.{digits}f} ({min(xs):.{digits}f}–{max(xs):.{digits}f}, sd {statistics.stdev(xs):.{digits}f}, n={len(xs)})"


def mean(xs):
    return statistics.mean(xs) if xs else float("nan")


def per_update_ms(d):
    return 1000.0 * d["seconds"] / d["updates"]


loads = {}
if os.path.exists(os.path.join(res, "load.log")):
    for line in open(os.path.join(res, "load.log")):
        parts = line.split()
        if len(parts) >= 7:
            stage, engine = parts[1], parts[2]
            loads.setdefault((stage, engine), []).append(float(parts[-3]))


def load_range(stage):
    xs = [x for (s, _), v in loads.items() if s == stage for x in v]
    return f"{min(xs):.1f}–{max(xs):.1f}" if xs else "not recorded"


lines = []
w = lines.append

# Character-level language model: the loss.
seeds = seeds_of("lm-rnn-simd-s{s}.json")
lm = {e: [d for d in (load(f"lm-{e}-s{s}.json") for s in seeds) if d] for e in ("rnn-simd", "pytorch")}
if lm["rnn-simd"] or lm["pytorch"]:
    ref = (lm["rnn-simd"] or lm["pytorch"])[0]
    pt0 = lm["pytorch"][0] if lm["pytorch"] else {}
    w("## 1. Character-level 2-layer LSTM on Debian's fortunes\n")
    w("Text: the `fortunes` package's text files (`/usr/share/games/fortunes`, no `.dat`, no `.u8` links, no `off/`) "
      f"concatenated in name order (`perf/parity/make_text.py`): {pt0.get('train_chars', 0) + pt0.get('held_out_chars', 0):,} "
      f"characters, {pt0.get('vocabulary', '?')} distinct. Held-out: the last tenth, at most 10 000 characters "
      f"({pt0.get('held_out_chars', '?')}), one stream from a zero state, mean nats/char. Model and schedule, the same for "
      "both engines: embedding 32 → 2-layer LSTM, H = 256, dropout 0.3 between the layers → linear → softmax "
      "cross-entropy; B = 16 contiguous streams × T = 64, state carried between chunks; Adam lr 3e-3 constant, "
      f"global-norm clip 5; {ref['updates']} updates (≈ {ref['updates'] * 1024 / max(1, pt0.get('train_chars', 1)):.2f} "
      "epochs); PyTorch's default initialisation in both (each engine its own generator, so the seeds give different "
      "initial weights and dropout masks in the two engines). 1 thread.\n")
    w("| engine | held-out loss after the last update (mean, range, sd) | last training loss | ms/update (incl. validation) |")
    w("|---|---|---|---:|")
    for e in ("rnn-simd", "pytorch"):
        ds = lm[e]
        w(f"| {e} | {spread([d['held_out_loss'] for d in ds])} | {spread([d['final_loss'] for d in ds])} | "
          f"{mean([per_update_ms(d) for d in ds]):.1f} |")
    if lm["rnn-simd"] and lm["pytorch"]:
        a, b = mean([d["held_out_loss"] for d in lm["rnn-simd"]]), mean([d["held_out_loss"] for d in lm["pytorch"]])
        w(f"\nHeld-out loss ratio rnn-simd / PyTorch: **{a / b:.4f}** ({100 * (a / b - 1):+.2f} %; target within ±2 %). "
          f"Load average during these runs: {load_range('lm')} (2 vCPUs).\n")
    # The curve.
    points = sorted({p["update"] for e in lm for d in lm[e] for p in d.get("held_out", [])})
    if points:
        w("The held-out curve (mean of the seeds at each measurement; sd in brackets):\n")
        w("| update | rnn-simd | PyTorch | ratio |")
        w("|---:|---|---|---:|")
        for u in points:
            cells = []
            ms = []
            for e in ("rnn-simd", "pytorch"):
                xs = [p["loss"] for d in lm[e] for p in d.get("held_out", []) if p["update"] == u]
                ms.append(mean(xs))
                cells.append(f"{mean(xs):.4f} ({statistics.stdev(xs):.4f})" if len(xs) > 1 else (f"{mean(xs):.4f}" if xs else "–"))
            w(f"| {u} | {cells[0]} | {cells[1]} | {ms[0] / ms[1]:.4f} |")
        if os.path.exists(os.path.join(os.path.dirname(out), "parity-fortunes.png")):
            w("\n![rnn-simd seed 1: training and held-out loss, learning rate](parity-fortunes.png)\n")
    w("\nPer seed:\n")
    w("| engine | seed | last training loss | held-out loss | best held-out (update) | ms/update |")
    w("|---|---:|---:|---:|---|---:|")
    for e in ("rnn-simd", "pytorch"):
        for s, d in zip(seeds, lm[e]):
            curve = d.get("held_out") or []
            best = min(curve, key=lambda p: p["loss"]) if curve else None
            w(f"| {e} | {d['seed'] if 'seed' in d else s} | {d['final_loss']:.4f} | {d['held_out_loss']:.4f} | "
              f"{'%.4f (%d)' % (best['loss'], best['update']) if best else '–'} | {per_update_ms(d):.1f} |")
    w("")

# The thread probe.
order = []   # the probe's set-ups in the order they ran (load.log), not by file time
if os.path.exists(os.path.join(res, "load.log")):
    order = [line.split()[3] for line in open(os.path.join(res, "load.log")) if line.split()[1:3] == ["probe", "pytorch"]]
probes = sorted(glob.glob(os.path.join(res, "probe-*.json")),
                key=lambda p: (order.index(os.path.basename(p)[6:-5]) if os.path.basename(p)[6:-5] in order else len(order), p))
if probes:
    w("## 2. PyTorch on 2 threads: why it was slower than on 1\n")
    w("PyTorch alone, the model of section 1, seed 1, a few updates per set-up, run in this order (the `-again` rows "
      "repeat a set-up to show the noise). `OMP_WAIT_POLICY` governs libgomp, which runs PyTorch's element-wise and "
      "reduction kernels; the GEMMs run on OpenBLAS's own pthread pool (`OPENBLAS_NUM_THREADS`), which "
      "`torch.set_num_threads` does not limit. `torch.set_num_threads(2)` sets libgomp's team to 2 whatever "
      "`OMP_NUM_THREADS` says, so `2-blas-only` still has two OpenMP threads: only OpenBLAS's pool differs from `2-active`.\n")
    w("| set-up | OMP_NUM_THREADS | OPENBLAS_NUM_THREADS | OMP_WAIT_POLICY | torch threads | ms/update | × the 1-thread set-up |")
    w("|---|---:|---:|---|---:|---:|---:|")
    base = None
    for pth in probes:
        d = json.load(open(pth))
        name = os.path.basename(pth)[len("probe-"):-len(".json")]
        env = d.get("env", {})
        ms = per_update_ms(d)
        base = base or (ms if name == "1-thread" else None)
        w(f"| {name} | {env.get('OMP_NUM_THREADS')} | {env.get('OPENBLAS_NUM_THREADS')} | {env.get('OMP_WAIT_POLICY') or 'unset'} | "
          f"{d.get('torch_threads')} | {ms:.1f} | {ms / base:.2f} |" if base else f"| {name} | | | | | {ms:.1f} | |")
    w(f"\nLoad average during the probe: {load_range('probe')}.\n")

# Time per update at 1 and 2 threads.
tseeds = seeds_of("time-rnn-simd-t*-s{s}.json")
threads = sorted({int(re.search(r"-t(\d+)-", os.path.basename(p)).group(1)) for p in glob.glob(os.path.join(res, "time-rnn-simd-t*-s*.json"))})
if threads:
    w("## 3. Time per update, 1 and 2 threads\n")
    any_t = load(f"time-rnn-simd-t{threads[0]}-s{tseeds[0]}.json")
    any_p = load(f"time-pytorch-t{threads[0]}-s{tseeds[0]}.json") or {}
    w(f"The model of section 1, {any_t['updates']} updates per run without validation, seeds {' '.join(map(str, tseeds))}; "
      "the runs interleaved (for each seed: rnn-simd 1 thread, PyTorch 1 thread, rnn-simd 2 threads, PyTorch 2 threads). "
      "rnn-simd: the `--json` `seconds` (the training loop, its JIT warm-up and one checkpoint save at the end); PyTorch: "
      f"the training loop's wall time. PyTorch {any_p.get('torch', '?')} with {', '.join(any_p.get('blas', [])[-1:]) or '?'}, "
      "`torch.set_num_threads(n)`, 1 interop thread, `OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = n`, "
      f"`OMP_WAIT_POLICY=passive`. Load average during these runs: {load_range('time')} (2 vCPUs).\n")
    w("| threads | rnn-simd ms/update (mean, range) | PyTorch ms/update (mean, range) | speed-up (ratio of means) | per-seed speed-ups |")
    w("|---:|---|---|---:|---|")
    for th in threads:
        r = [load(f"time-rnn-simd-t{th}-s{s}.json") for s in tseeds]
        p = [load(f"time-pytorch-t{th}-s{s}.json") for s in tseeds]
        pairs = [(a, b) for a, b in zip(r, p) if a and b]
        rm = [per_update_ms(a) for a, _ in pairs]
        pm = [per_update_ms(b) for _, b in pairs]
        w(f"| {th} | {mean(rm):.1f} ({min(rm):.1f}–{max(rm):.1f}) | {mean(pm):.1f} ({min(pm):.1f}–{max(pm):.1f}) | "
          f"**{mean(pm) / mean(rm):.2f}×** | {', '.join(f'{b / a:.2f}' for a, b in zip(rm, pm))} |")
    if len(threads) > 1:
        def tm(e, th):
            return mean([per_update_ms(d) for d in (load(f"time-{e}-t{th}-s{s}.json") for s in tseeds) if d])
        w(f"\n2-thread speed-up over 1 thread: rnn-simd {tm('rnn-simd', threads[0]) / tm('rnn-simd', threads[-1]):.2f}×, "
          f"PyTorch {tm('pytorch', threads[0]) / tm('pytorch', threads[-1]):.2f}×.\n")

    w("")

# Min-of-rounds timing.
rounds = glob.glob(os.path.join(res, "rounds-*-t*-r*.json"))
if rounds:
    rth = sorted({int(re.search(r"-t(\d+)-r", os.path.basename(p)).group(1)) for p in rounds})
    nr = len({re.search(r"-r(\d+)", os.path.basename(p)).group(1) for p in rounds})
    d0 = json.load(open(rounds[0]))
    w("### 3b. The same, as min-of-rounds\n")
    w(f"{nr} rounds, each: rnn-simd 1 thread, PyTorch 1 thread, rnn-simd 2 threads, PyTorch 2 threads, {d0['updates']} "
      "updates per run, seed 1, no validation (`STAGES=rounds`). On a machine shared with other jobs the fastest round "
      "of each is the closest to its unloaded speed; the median is given beside it. rnn-simd's runs include its JIT "
      f"start, which weighs more in short runs. Load average during these runs: {load_range('rounds')}.\n")
    w("| threads | rnn-simd ms/update: min, median | PyTorch: min, median | speed-up of the mins | of the medians |")
    w("|---:|---|---|---:|---:|")
    for th in rth:
        xs = {e: sorted(per_update_ms(json.load(open(p))) for p in glob.glob(os.path.join(res, f"rounds-{e}-t{th}-r*.json")))
              for e in ("rnn-simd", "pytorch")}
        if xs["rnn-simd"] and xs["pytorch"]:
            mr, mp = statistics.median(xs["rnn-simd"]), statistics.median(xs["pytorch"])
            w(f"| {th} | {xs['rnn-simd'][0]:.1f}, {mr:.1f} | {xs['pytorch'][0]:.1f}, {mp:.1f} | "
              f"**{xs['pytorch'][0] / xs['rnn-simd'][0]:.2f}×** | {mp / mr:.2f}× |")
    w("")

# Sunspots forecaster.
sseeds = seeds_of("series-rnn-simd-t*-s{s}.json")
sthreads = sorted({int(re.search(r"-t(\d+)-", os.path.basename(p)).group(1)) for p in glob.glob(os.path.join(res, "series-rnn-simd-t*-s*.json")) if "scored" not in p})
pers = load("series-persistence.json")
if sthreads and pers:
    p0 = load(f"series-pytorch-t{sthreads[0]}-s{sseeds[0]}.json") or {}
    r0 = load(f"series-rnn-simd-t{sthreads[0]}-s{sseeds[0]}.json") or {}
    w("## 4. Forecaster on the yearly sunspots\n")
    w(f"Series: column `SUNACTIVITY` of the `sunspots.csv` Debian's python3-statsmodels ships ({pers['values']} yearly "
      f"values, 1700–2008), standardised by its mean ({pers['mean']:.2f}) and population sd ({pers['std']:.2f}); "
      f"held-out: the last {pers['held_out']} values, each predicted one step ahead after priming the model on everything "
      "before it (SeriesRun.Validate). Model and schedule, the same for both engines: x → 1-layer LSTM, H = 32 → "
      f"linear → next value, MSE; B = 4 contiguous streams × T = 16, state carried; Adam lr 3e-3, clip 5; "
      f"{r0.get('updates', '?')} updates; held-out MSE measured every 50 updates. rnn-simd: "
      "`rnn-simd train --csv … --column SUNACTIVITY --hidden 32 --batch 4 --steps 16`; its MAE is computed from its "
      "final checkpoint's weights by `forecaster.py --evaluate` (whose MSE matches the one rnn-simd reports, to the "
      "printed digits). PyTorch: `perf/parity/forecaster.py`. MSE and MAE in standardised units; MAE also in "
      "sunspot-number units.\n")
    w("| model | held-out MSE (mean, range, sd) | held-out MAE | MAE, sunspot units | best held-out MSE on the curve (mean) |")
    w("|---|---|---|---:|---:|")
    w(f"| persistence (x̂ₜ₊₁ = xₜ) | {pers['persistence_mse_standardised']:.4f} | {pers['persistence_mae_standardised']:.4f} | "
      f"{pers['persistence_mae_units']:.2f} | |")
    th = sthreads[0]
    rs = [load(f"series-rnn-simd-t{th}-s{s}.json") for s in sseeds]
    rsc = [load(f"series-rnn-simd-t{th}-s{s}.scored.json") for s in sseeds]
    ps = [load(f"series-pytorch-t{th}-s{s}.json") for s in sseeds]
    rs, rsc, ps = [d for d in rs if d], [d for d in rsc if d], [d for d in ps if d]
    w(f"| rnn-simd LSTM | {spread([d['held_out_loss'] for d in rs])} | {spread([d['mae'] for d in rsc])} | "
      f"{mean([d['mae_units'] for d in rsc]):.2f} | {mean([d['best_held_out_loss'] for d in rs]):.4f} |")
    w(f"| PyTorch LSTM | {spread([d['held_out_loss'] for d in ps])} | {spread([d['held_out_mae'] for d in ps])} | "
      f"{mean([d['held_out_mae_units'] for d in ps]):.2f} | {mean([min(p['loss'] for p in d['held_out']) for d in ps]):.4f} |")
    if rs and ps:
        w(f"\nMSE ratio rnn-simd / PyTorch: {mean([d['held_out_loss'] for d in rs]) / mean([d['held_out_loss'] for d in ps]):.3f}; "
          f"both against persistence: rnn-simd {mean([d['held_out_loss'] for d in rs]) / pers['persistence_mse_standardised']:.2f}×, "
          f"PyTorch {mean([d['held_out_loss'] for d in ps]) / pers['persistence_mse_standardised']:.2f}× its MSE.\n")
    w("| threads | rnn-simd ms/update (mean, range) | PyTorch ms/update (mean, range) | speed-up | after start-up: rnn-simd | PyTorch | speed-up |")
    w("|---:|---|---|---:|---:|---:|---:|")
    for th in sthreads:
        rd = [d for d in (load(f"series-rnn-simd-t{th}-s{s}.json") for s in sseeds) if d]
        pd = [d for d in (load(f"series-pytorch-t{th}-s{s}.json") for s in sseeds) if d]
        rm, pm = [per_update_ms(d) for d in rd], [per_update_ms(d) for d in pd]
        rw, pw = load(f"series-warm-rnn-simd-t{th}.json"), load(f"series-warm-pytorch-t{th}.json")
        steady = ["–", "–", "–"]
        if rw and pw and rd and pd:
            n = rd[0]["updates"]
            rs_ = 1000 * (mean([d["seconds"] for d in rd]) - rw["seconds"]) / (n - 1)
            ps_ = 1000 * (mean([d["seconds"] for d in pd]) - pw["seconds"]) / (n - 1)
            steady = [f"{rs_:.3f}", f"{ps_:.3f}", f"{ps_ / rs_:.1f}×"]
        if rm and pm:
            w(f"| {th} | {mean(rm):.3f} ({min(rm):.3f}–{max(rm):.3f}) | {mean(pm):.3f} ({min(pm):.3f}–{max(pm):.3f}) | "
              f"{mean(pm) / mean(rm):.1f}× | " + " | ".join(steady) + " |")
    w(f"\nTime per update = the run's timed loop / updates, including the held-out measurements every 50 updates (and, "
      "for rnn-simd, the JIT's start and the checkpoint saves); \"after start-up\" subtracts each engine's one-update "
      f"run (same settings, measured once per thread count): (t(N) − t(1)) / (N − 1). Load average during these runs: "
      f"{load_range('series')}. The held-out losses are the same at 1 and 2 threads (rnn-simd bit-identical by design; "
      "PyTorch to ~1e-6).\n")
    w("Per seed (1 thread):\n")
    w("| engine | seed | last training loss | held-out MSE | held-out MAE | best MSE (update) |")
    w("|---|---:|---:|---:|---:|---|")
    for s in sseeds:
        d, c = load(f"series-rnn-simd-t{th}-s{s}.json"), load(f"series-rnn-simd-t{th}-s{s}.scored.json")
        if d and c:
            w(f"| rnn-simd | {s} | {d['final_loss']:.4f} | {d['held_out_loss']:.4f} | {c['mae']:.4f} | "
              f"{d['best_held_out_loss']:.4f} ({d['best_update']}) |")
    for s in sseeds:
        d = load(f"series-pytorch-t{th}-s{s}.json")
        if d:
            b = min(d["held_out"], key=lambda p: p["loss"])
            w(f"| PyTorch | {s} | {d['final_loss']:.4f} | {d['held_out_loss']:.4f} | {d['held_out_mae']:.4f} | "
              f"{b['loss']:.4f} ({b['update']}) |")
    if os.path.exists(os.path.join(os.path.dirname(out), "parity-sunspots.png")):
        w("\n![rnn-simd seed 1 on the sunspots: training and held-out MSE](parity-sunspots.png)\n")

notes = ""
if os.path.exists(out):
    old = open(out).read()
    if MARK in old:
        notes = old[old.index(MARK):]
head = (f"# Parity with PyTorch on real data (issue 22 item 5)\n\nGenerated by `perf/parity/run.sh` (one command; every "
        f"run's JSON in `perf/results/parity/`, the load average before each run in `perf/results/parity/load.log`). "
        f"CPU: {cpu()}, {os.cpu_count()} logical CPUs, shared with other jobs. Both engines run with `nice -n 10`.\n\n")
with open(out, "w") as f:
    f.write(head + "\n".join(lines) + "\n" + (("\n" + notes) if notes else f"\n{MARK}\n"))
print(open(out).read())
