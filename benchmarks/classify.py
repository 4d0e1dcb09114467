"""How fast is `datacall classify`, compared with spaCy alone on the same model?

    python -m benchmarks.classify [--texts 20000] [--cli-lines 20000] [--memory-texts 200000] [--out FILE]

Measures, in one process and on the same trained model (the default one,
trained from the packaged corpus unless --model is given):
- bare `nlp.pipe` on raw strings (spaCy's tokenizer + the textcat): the baseline;
- `TextClassifier.predict` (our tokens, the textcat, language detection):
  texts/s over batches of 256, p50/p99 latency per batch and per single text,
  and `TextClassifier.scores` alone (no language detection);
- the real `datacall classify` command, as a subprocess reading `--cli-lines`
  lines on stdin (start-up included, and without it);
- resident memory (RSS) before and after `--memory-texts` texts through
  `predict`, and through bare `nlp.pipe` with and without `nlp.memory_zone()`.
Ratios are ours / bare nlp.pipe: above 1 means faster than spaCy alone.
Texts are distinct: pairs of corpus texts, numbered.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import classifiers

BATCH = 256


def make_texts(n: int, corpus: Path | None = None) -> list[str]:
    """`n` distinct, realistic texts: a corpus text followed by the end of another one."""
    # One line each: `datacall classify` reads one text per line, and some corpus texts have several.
    base = [" ".join(r["text"].split()) for r in classifiers.read_jsonl(corpus or classifiers.default_corpus_path())]
    size = len(base)
    texts = []
    for i in range(n):
        tail = base[(i * 7919 + i // size) % size].split()[-3:]
        texts.append(f"{base[i % size]} {' '.join(tail)} #{i}")
    return texts


def _percentiles(seconds: Sequence[float]) -> dict:
    ordered = sorted(seconds)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3)}


def _timed_batches(run: Callable[[list[str]], object], texts: list[str], batch: int) -> dict:
    """Texts/s over all batches, and the latency distribution of one batch."""
    run(texts[:batch])  # warm-up: lazy loads, first allocations
    latencies = []
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch):
        t0 = time.perf_counter()
        run(texts[start : start + batch])
        latencies.append(time.perf_counter() - t0)
    total, cpu_total = time.perf_counter() - started, time.process_time() - cpu
    return {
        "texts": len(texts),
        "batch": batch,
        "texts_per_second": round(len(texts) / total),
        "texts_per_cpu_second": round(len(texts) / cpu_total),
        **{f"batch_{k}": v for k, v in _percentiles(latencies).items()},
    }


def _single_latency(run: Callable[[list[str]], object], texts: list[str], n: int = 1000) -> dict:
    latencies = []
    for text in texts[:n]:
        t0 = time.perf_counter()
        run([text])
        latencies.append(time.perf_counter() - t0)
    return {f"single_{k}": v for k, v in _percentiles(latencies).items()}


def bench_pipe(nlp, texts: list[str], *, batch: int = BATCH) -> dict:
    """Bare spaCy: nlp.pipe on raw strings, the textcat's scores read from each Doc.

    No memory zone here: spaCy at its fastest, caches kept (see memory_runs for the cost).
    """

    def run(chunk: list[str]) -> None:
        for doc in nlp.pipe(chunk, batch_size=batch):
            doc.cats  # noqa: B018 - read like the real path reads it

    return {**_timed_batches(run, texts, batch), **_single_latency(run, texts)}


def bench_predict(classifier, texts: list[str], *, batch: int = BATCH) -> dict:
    """`TextClassifier.predict`, as `datacall classify` and the classify job call it."""
    run = lambda chunk: classifier.predict(chunk, batch_size=1000)  # noqa: E731
    return {**_timed_batches(run, texts, batch), **_single_latency(run, texts)}


def bench_scores(classifier, texts: list[str], *, batch: int = BATCH) -> dict:
    """`TextClassifier.scores` alone: the predict path without language detection."""
    return _timed_batches(lambda chunk: classifier.scores(chunk, batch_size=1000), texts, batch)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def bench_memory(run: Callable[[list[str]], object], texts: list[str], total: int, *, batch: int = 1000) -> dict:
    """RSS before, at each quarter of, and after `total` texts (cycling `texts`, each made unique).

    Bounded caches fill up in the first part of a run; flat means the second
    half adds (next to) nothing.
    """
    run(texts[:batch])
    gc.collect()
    before = _rss_mb()
    checkpoints, done, quarter = [], 0, max(total // 4, 1)
    while done < total:
        chunk = [f"{texts[(done + i) % len(texts)]} {done + i}" for i in range(min(batch, total - done))]
        run(chunk)
        done += len(chunk)
        if done % quarter < len(chunk) or done == total:
            checkpoints.append(round(_rss_mb(), 1))
    gc.collect()
    after = _rss_mb()
    half = checkpoints[len(checkpoints) // 2 - 1] if len(checkpoints) >= 2 else before
    return {
        "texts": total,
        "rss_before_mb": round(before, 1),
        "rss_by_quarter_mb": checkpoints,
        "rss_after_mb": round(after, 1),
        "growth_mb": round(after - before, 1),
        "growth_second_half_mb": round(after - half, 1),
    }


def memory_runs(classifier, texts: list[str], total: int) -> dict:
    """RSS growth of predict, and of bare nlp.pipe with and without memory zones."""
    nlp = classifier.nlp

    def pipe_zoned(chunk):
        with nlp.memory_zone():
            for doc in nlp.pipe(chunk):
                doc.cats  # noqa: B018 - reading the scores is the work being timed

    def pipe_plain(chunk):
        for doc in nlp.pipe(chunk):
            doc.cats  # noqa: B018 - reading the scores is the work being timed

    return {
        "predict": bench_memory(classifier.predict, texts, total),
        "nlp_pipe_memory_zone": bench_memory(pipe_zoned, texts, total),
        "nlp_pipe_no_zone": bench_memory(pipe_plain, texts, total),
    }


def _datacall_command() -> list[str]:
    script = Path(sys.executable).with_name("datacall")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from bot.cli.app import main; main()"]


def bench_cli(model: Path, texts: list[str]) -> dict:
    """The real `datacall classify` as a subprocess: whole run, and a one-line run for start-up."""
    with tempfile.TemporaryDirectory(prefix="datacall-bench-") as tmp:
        config = Path(tmp) / "datacall.toml"
        config.write_text(f'[classifier]\nmodel_path = "{model.as_posix()}"\n', encoding="utf-8")
        command = [*_datacall_command(), "classify", "--config", str(config)]

        def run(lines: list[str]) -> tuple[float, float, int]:
            """Wall seconds, CPU seconds of the child (user + system), lines written."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                command, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True, cwd=tmp
            )
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return wall, cpu, done.stdout.count("\n")

        startup, startup_cpu, _ = run(texts[:1])
        total, total_cpu, written = run(texts)
    if written != len(texts):
        raise RuntimeError(f"datacall classify wrote {written} lines for {len(texts)}")
    return {
        "lines": len(texts),
        "seconds": round(total, 2),
        "cpu_seconds": round(total_cpu, 2),
        "startup_seconds": round(startup, 2),
        "startup_cpu_seconds": round(startup_cpu, 2),
        "texts_per_second": round(len(texts) / total),
        "texts_per_second_after_startup": round(len(texts) / max(total - startup, 1e-9)),
        "texts_per_cpu_second_after_startup": round(len(texts) / max(total_cpu - startup_cpu, 1e-9)),
    }


def run(
    *, texts: int = 20_000, cli_lines: int = 20_000, memory_texts: int = 200_000, model: Path | None = None,
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> dict:
    """Every measurement above; a JSON-ready report."""
    model = Path(model) if model else classifiers.ensure_model(None, on_train=say)
    classifier = classifiers.load(model)
    sample = make_texts(max(texts, cli_lines))
    say(f"bare nlp.pipe on {texts} texts …")
    pipe = bench_pipe(classifier.nlp, sample[:texts])
    say(f"TextClassifier.predict on {texts} texts …")
    predict = bench_predict(classifier, sample[:texts])
    scores = bench_scores(classifier, sample[:texts])
    report = {
        "model": str(model),
        "model_version": classifier.version,
        "fast_path": classifier._bow is not None,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "nlp_pipe": pipe,
        "predict": predict,
        "scores_only": scores,
        "predict_vs_nlp_pipe": round(predict["texts_per_second"] / pipe["texts_per_second"], 2),
        "predict_vs_nlp_pipe_cpu": round(predict["texts_per_cpu_second"] / pipe["texts_per_cpu_second"], 2),
    }
    if cli_lines:
        say(f"datacall classify (subprocess) on {cli_lines} lines …")
        report["cli"] = bench_cli(model, sample[:cli_lines])
        report["cli_vs_nlp_pipe"] = round(report["cli"]["texts_per_second"] / pipe["texts_per_second"], 2)
        report["cli_vs_nlp_pipe_cpu"] = round(
            report["cli"]["texts_per_cpu_second_after_startup"] / pipe["texts_per_cpu_second"], 2
        )
    if memory_texts:
        say(f"memory over {memory_texts} texts, three ways …")
        report["memory"] = memory_runs(classifier, sample[:texts], memory_texts)
    return report


def markdown(report: dict) -> str:
    """The report as the tables of BENCHMARKS.md."""
    pipe, predict = report["nlp_pipe"], report["predict"]
    lines = [
        "| path | texts/s (wall) | texts per CPU-second | vs bare nlp.pipe (wall / CPU) "
        "| p50 / p99 per batch of 256 (ms) | p50 / p99 per single text (ms) |",
        "|---|---|---|---|---|---|",
        f"| bare `nlp.pipe` (spaCy tokenizer + textcat) | {pipe['texts_per_second']:,} | "
        f"{pipe['texts_per_cpu_second']:,} | 1.00 / 1.00 | "
        f"{pipe['batch_p50_ms']} / {pipe['batch_p99_ms']} | {pipe['single_p50_ms']} / {pipe['single_p99_ms']} |",
        f"| `TextClassifier.predict` (+ language detection) | {predict['texts_per_second']:,} | "
        f"{predict['texts_per_cpu_second']:,} | "
        f"{report['predict_vs_nlp_pipe']:.2f} / {report['predict_vs_nlp_pipe_cpu']:.2f} | "
        f"{predict['batch_p50_ms']} / {predict['batch_p99_ms']} | "
        f"{predict['single_p50_ms']} / {predict['single_p99_ms']} |",
        f"| `TextClassifier.scores` (no language detection) | {report['scores_only']['texts_per_second']:,} | "
        f"{report['scores_only']['texts_per_cpu_second']:,} | "
        f"{report['scores_only']['texts_per_second'] / pipe['texts_per_second']:.2f} / "
        f"{report['scores_only']['texts_per_cpu_second'] / pipe['texts_per_cpu_second']:.2f} | "
        f"{report['scores_only']['batch_p50_ms']} / {report['scores_only']['batch_p99_ms']} | – |",
    ]
    if "cli" in report:
        cli = report["cli"]
        lines.append(
            f"| `datacall classify` subprocess, {cli['lines']:,} lines | {cli['texts_per_second']:,} "
            f"({cli['texts_per_second_after_startup']:,} after {cli['startup_seconds']} s start-up) | "
            f"{cli['texts_per_cpu_second_after_startup']:,} after start-up | "
            f"{report['cli_vs_nlp_pipe']:.2f} / {report['cli_vs_nlp_pipe_cpu']:.2f} | – | – |"
        )
    if "memory" in report:
        lines += [
            "",
            "| memory run | texts | RSS before (MB) | RSS at each quarter (MB) | growth (MB) "
            "| growth, second half (MB) |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in report["memory"].items():
            quarters = " → ".join(str(x) for x in m["rss_by_quarter_mb"])
            lines.append(
                f"| {name} | {m['texts']:,} | {m['rss_before_mb']} | {quarters} | {m['growth_mb']} | "
                f"{m['growth_second_half_mb']} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--cli-lines", type=int, default=20_000, help="0 to skip the subprocess run")
    parser.add_argument("--memory-texts", type=int, default=200_000, help="0 to skip the memory runs")
    parser.add_argument("--model", type=Path, help="model folder (default: the packaged corpus's)")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    report = run(texts=args.texts, cli_lines=args.cli_lines, memory_texts=args.memory_texts, model=args.model)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
