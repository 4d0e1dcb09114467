"""`datacall classify`, `train` and `evaluate`: the classifier from the command line."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

import classifiers
from bot.cli.common import ConfigOption, config_or_exit, console, errors, fail, spot_check_summary
from bot.config import Config
from bot.paths import configured_model_path

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


def _model(config_path: Path | None) -> tuple[classifiers.TextClassifier, float, int]:
    config = config_or_exit(config_path, sections=("classifier",))  # only what classify reads
    path = configured_model_path(config)
    try:
        model_dir = classifiers.ensure_model(path, on_train=lambda text: errors.print(text, markup=False))
    except classifiers.CorpusError as exc:
        fail(str(exc), 2)
    return classifiers.load(model_dir), config.classifier.threshold, config.classifier.batch_size


def classify(
    jsonl: bool = typer.Option(False, "--jsonl", help="Read JSON objects with a `text` field, not plain lines."),
    config: ConfigOption = None,
) -> None:
    """Read one text per line on stdin; write one JSON object per line: label, score, lang.

    A line that cannot be read (not UTF-8, not JSON, no `text`) is reported on
    stderr with its number and skipped; the others are classified; exit code 2.
    """
    classifier, threshold, batch_size = _model(config)
    bad: list[int] = []

    def texts() -> Iterator[str]:
        for number, raw in enumerate(_stdin_lines(), start=1):
            try:
                yield _text(raw, number, jsonl)
            except BadLine as exc:
                bad.append(number)
                typer.echo(f"datacall: stdin:{number}: {exc}", err=True)

    lines = texts()
    while batch := list(itertools.islice(lines, batch_size)):
        for prediction in classifier.predict(batch, threshold=threshold):
            sys.stdout.write(
                json.dumps(
                    {"label": prediction.label, "score": round(prediction.score, 6), "lang": prediction.lang},
                    ensure_ascii=False,
                )
                + "\n"
            )
        sys.stdout.flush()
    if bad:
        raise typer.Exit(2)


class BadLine(ValueError):
    """One input line that cannot be classified; the message says why."""


def _stdin_lines() -> Iterator[bytes]:
    """stdin as bytes, so one line that is not UTF-8 costs that line only."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream handed in by an embedding program
        yield from (line.encode("utf-8", "surrogatepass") for line in sys.stdin)
        return
    yield from stream


def _text(raw: bytes, number: int, jsonl: bool) -> str:
    try:
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1})") from None
    line = line.rstrip("\n")
    if jsonl:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadLine(f"not JSON: {exc.msg}") from None
        except RecursionError:
            raise BadLine("not JSON: nested too deep") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise BadLine("expected an object with a string `text` field")
        line = record["text"]
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadLine(f"text is not valid Unicode (lone surrogate at position {exc.start + 1})") from None
    return line


def train(
    corpus: Path = typer.Option(None, help="Labelled JSONL (text, label, lang); default: the packaged corpus."),
    out: Path = typer.Option(None, help="Model folder (default: [classifier] model_path, or the user cache)."),
    with_decisions: bool = typer.Option(
        False,
        "--with-decisions",
        help="Add the officers' label decisions from the database to the train split; "
        "replace the model unless its dev macro-F1 drops by more than 0.01.",
    ),
    config: ConfigOption = None,
) -> None:
    """Train the classifier and write its model folder with metrics.json."""
    settings = config_or_exit(config)
    corpus = corpus or classifiers.default_corpus_path()
    if out is None:
        out = configured_model_path(settings) or classifiers.default_model_path(corpus)
    if with_decisions:
        _train_with_decisions(settings, corpus, out)
        return
    console.print(f"training on {corpus} into {out} …")
    try:
        metrics = classifiers.train(corpus, out)
    except classifiers.CorpusError as exc:
        fail(str(exc), 2)
    _print_metrics(metrics.get("test") or metrics.get("dev") or metrics, title="held-out test split")
    _print_band(metrics)
    console.print(f"model written to {out} (metrics in {out / 'metrics.json'})")


def _train_with_decisions(settings: Config, corpus: Path, out: Path) -> None:
    records = _decisions(settings)
    console.print(f"training on {corpus} + {len(records)} officer decisions (latest per message) …")
    try:
        result = classifiers.retrain(corpus, out, extra_train=records)
    except classifiers.CorpusError as exc:
        fail(str(exc), 2)
    current, candidate = result["current"], result["candidate"]
    console.print(f"dev macro-F1: current model {_number(current)}, with decisions {_number(candidate)}")
    if not result["replaced"]:
        console.print(f"kept the current model in {out}: the new one scores more than "
                      f"{classifiers.training.RETRAIN_TOLERANCE} lower on dev")
        return
    _print_band(result["metrics"])
    why = "there was none" if current is None else "the new one is not worse on dev, within the tolerance"
    console.print(f"replaced the model in {out} ({why}; metrics in {out / 'metrics.json'})")


def _decisions(settings: Config, *, first_decided_after: int | None = None) -> list[dict]:
    """Officer decisions from the configured database, as labelled records (see decision_records)."""
    from bot.training_data import decision_records

    return _read_database(settings, lambda session: decision_records(session, first_decided_after=first_decided_after))


def _read_database(settings: Config, read: Callable[[Session], T]) -> T:
    """`read` on a session of the configured database; a database that cannot be read ends in one line."""
    from bot.runtime import database_url
    from storage.database import DatabaseError, make_engine, make_session_factory
    from storage.migrate import require_current

    try:
        engine = make_engine(database_url(settings))
    except Exception as exc:  # noqa: BLE001 - a bad URL or driver ends in one line
        fail(f"cannot open the database: {exc}")
    try:
        require_current(engine)
        with make_session_factory(engine)() as session:
            return read(session)
    except DatabaseError as exc:
        fail(str(exc))
    finally:
        engine.dispose()


def _print_band(metrics: dict) -> None:
    band = metrics.get("review_band")
    if not band:
        return
    source = band["source"]
    # A band calibrated on held-out groups (config.cfg) is shown with what it does on dev.
    shown = "dev" if source == "held_out_groups" else source
    share = (band.get(shown) or {}).get("share_in_band")
    where = "kinds and registers held out" if source == "held_out_groups" else source
    console.print(
        f"review band [{band['low']:.3f}, {band['high']:.3f}] (automatic decisions >= "
        f"{band['target_precision']:.0%} precise on {where}; "
        f"{'n/a' if share is None else f'{share:.0%}'} of {shown} messages go to officers)"
    )


def evaluate(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, help="Labelled JSONL: text, label."),
    decisions: bool = typer.Option(
        False,
        "--decisions",
        help="Instead of a file: the officers' decisions in the database that the model has not learned from "
        "(this deployment's own messages, mostly those the review band sent to officers).",
    ),
    out: Path = typer.Option(None, help="Also write the report as JSON here."),
    config: ConfigOption = None,
) -> None:
    """Score the model on a labelled file, or on the officers' decisions: accuracy, macro-F1 per language,
    confusion matrix."""
    if (file is None) == (not decisions):
        fail("give a labelled FILE or --decisions (one of the two)", 2)
    classifier, threshold, _ = _model(config)
    # The database's settings are checked too when it is read, as `train --with-decisions` does.
    settings = config_or_exit(config) if decisions else config_or_exit(config, sections=("classifier",))
    checks: dict[str, dict] = {}
    if decisions:
        from bot.training_data import decision_records
        from storage.queries import spot_check_results

        seen = _last_decision_id(classifier.path)
        records, results = _read_database(settings, lambda session: (
            decision_records(session, first_decided_after=seen or 0),
            spot_check_results(session, threshold=threshold),
        ))
        checks = _spot_check_report(results)
        console.print("spot checks of automatic decisions (the model in service at the time): "
                      + spot_check_summary(results))
        title = "officers' decisions " + ("since this model was trained" if seen else "(this model learned from none)")
        if not records:
            console.print(f"{title}: none yet; decide messages in the queue, then run this again")
            return
    else:
        try:
            records = classifiers.read_jsonl(file)
        except classifiers.CorpusError as exc:
            fail(str(exc), 2)
        title = str(file)
    band = settings.classifier.review_band or classifier.review_band
    report = classifiers.evaluate(classifier, records, threshold=threshold, review_band=band)
    if checks:
        report["spot_checks"] = checks
    _print_metrics(report, title=title)
    if report.get("review_band"):
        b = report["review_band"]
        console.print(
            f"review band [{b['low']:.3f}, {b['high']:.3f}]: {b['in_band']} of {b['n']} to officers; "
            f"automatic data_request precision {_number(b['precision_above'])} (n={b['auto_data_request']}), "
            f"automatic off_topic precision {_number(b['precision_below'])} (n={b['auto_off_topic']})"
        )
    if decisions:
        console.print("These are the messages officers decided: mostly those the review band sent them, then the "
                      "spot checks and the automatic decisions they corrected. Harder than the whole stream, so the "
                      "figures are low rather than high.")
    if out:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"report written to {out}")


def _spot_check_report(results: dict[str, tuple[int, int]]) -> dict[str, dict]:
    from classifiers.metrics import wilson_interval

    return {label: {"checked": n, "right": right, "precision": right / n if n else None,
                    "interval_95": wilson_interval(right, n)}
            for label, (n, right) in results.items()}


def _last_decision_id(model_dir: Path) -> int | None:
    """The newest officer decision this model learned from (meta.json), None if it learned from none."""
    from classifiers.cache import model_meta

    value = (model_meta(model_dir) or {}).get("last_decision_id")
    return value if isinstance(value, int) else None


def _print_metrics(report: dict, *, title: str) -> None:
    console.print(
        f"[bold]{title}[/bold]: n={report.get('n')} accuracy={_number(report.get('accuracy'))} "
        f"macro-F1={_number(report.get('macro_f1'))}"
    )
    per_lang = report.get("per_language") or {}
    if per_lang:
        console.print(
            "per language: "
            + ", ".join(f"{lang} {_number(v['macro_f1'])} (n={v['n']})" for lang, v in sorted(per_lang.items()))
        )
    matrix = report.get("confusion")
    if matrix:
        table = Table("gold \\ predicted", *classifiers.LABELS)
        for gold in classifiers.LABELS:
            table.add_row(gold, *(str(matrix.get(gold, {}).get(p, 0)) for p in classifiers.LABELS))
        console.print(table)


def _number(value: float | None) -> str:
    """Metrics are None where undefined (an empty split)."""
    return "n/a" if value is None else f"{value:.3f}"
