"""The catalogue of bad input (issue 17), one row per case, through the command line.

Every refused case must give exit 1 and one line on stderr, ``sslasd VERB: error: ...``, naming the
file or key and what is wrong (a list of bad files may follow it, one indented line each), with no
traceback, and leave nothing that blocks a retry. The cases that must simply work are the second
table. Cases checked closer to the code live beside it: bundle tampering with a resealed checksum
(``tests/pipeline/test_bundle_integrity.py``), the step lock of concurrent scoring
(``tests/_common/test_common.py``), a stream's spans (``tests/data/test_audio_loader.py``) and the
scikit-learn contract of the back-ends (``tests/backends/test_sklearn_checks.py``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sslasd.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

PWNED = "pwned"  # the file a hostile input would create if it ran
FAST = ["--config", "tiny", "--set", "train.steps=12", "--set", "train.warmup_steps=2", "--no-progress"]


@dataclass
class Ctx:
    """What a case builds its bad input from: a scratch folder, the tiny data set and a fitted run."""

    tmp: Path
    data: Path
    run: Path

    def data_copy(self) -> Path:
        root = self.tmp / "data"
        if not root.exists():
            shutil.copytree(self.data, root)
        return root

    def wav(self, machine: str, split: str, i: int = 0) -> Path:
        return sorted((self.data_copy() / machine / split).glob("*.wav"))[i]

    def fit(self, out: str = "run") -> list[str]:
        return ["fit", "--data", str(self.data_copy()), "--out", str(self.tmp / out), *FAST]


# -- the cases: each builds its bad input and returns the command line ---------------------------


def _empty_train_wav(c: Ctx) -> list[str]:
    c.wav("pump", "train").write_bytes(b"")
    return c.fit()


def _no_train_folder(c: Ctx) -> list[str]:
    shutil.rmtree(c.data_copy() / "pump" / "train")
    return c.fit()


def _empty_train_folder(c: Ctx) -> list[str]:
    for p in (c.data_copy() / "pump" / "train").glob("*.wav"):
        p.unlink()
    return c.fit()


def _nan_short_truncated_train(c: Ctx) -> list[str]:
    first, second, third = (c.wav("fan", "train", i) for i in range(3))
    wave, rate = sf.read(first, dtype="float32")
    wave[100] = np.nan
    sf.write(first, wave, rate, subtype="FLOAT")
    sf.write(second, np.zeros(10, dtype=np.float32), rate)
    third.write_bytes(third.read_bytes()[:2000])
    return c.fit()


def _export(c: Ctx) -> tuple[Path, dict[str, str], dict[str, torch.Tensor]]:
    bundle = c.tmp / "model.sslasd"
    assert main(["export", "--run", str(c.run), "--out", str(bundle)]) == 0
    with safe_open(str(bundle), "pt") as f:
        meta = f.metadata()
    return bundle, meta, load_file(str(bundle))


def _bundle_with_flipped_bank(c: Ctx) -> list[str]:
    bundle, meta, tensors = _export(c)
    key = next(k for k in tensors if k.endswith("bank_source_"))
    tensors[key] = -tensors[key]
    save_file(tensors, str(bundle), metadata=meta)
    return ["detect", "--run", str(bundle), str(c.wav("fan", "test")), "--machine", "fan"]


def _bundle_with_edited_metadata(c: Ctx) -> list[str]:
    bundle, meta, tensors = _export(c)
    info = json.loads(meta["sslasd"])
    info["num_samples"] = "abc"
    save_file(tensors, str(bundle), metadata={"sslasd": json.dumps(info)})
    return ["detect", "--run", str(bundle), str(c.wav("fan", "test")), "--machine", "fan"]


def _download_of_a_missing_file(c: Ctx) -> list[str]:
    www = c.tmp / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www))
    )  # serves nothing: every file is a 404
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/gone.pt"
    files = [{"file_name": "gone.pt", "url": url, "sha256": "0" * 64, "size": None}]
    asset = {
        "name": "ckpt",
        "kind": "checkpoint",
        "backbone": "efficientat",
        "target": "gone.pt",
        "files": files,
    }
    catalog = c.tmp / "catalog.json"
    catalog.write_text(json.dumps({"version": 1, "assets": [asset]}))
    return ["download", "ckpt", "--catalog", str(catalog), "--to", str(c.tmp / "out")]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _detect_on_a_folder_without_audio(c: Ctx) -> list[str]:
    (c.tmp / "empty").mkdir()
    return ["detect", "--run", str(c.run), str(c.tmp / "empty")]


def _set_with_a_yaml_tag(c: Ctx) -> list[str]:
    return [*c.fit(), "--set", f"train.steps=!!python/object/apply:os.system ['touch {c.tmp / PWNED}']"]


def _set_with_an_alias_bomb(c: Ctx) -> list[str]:
    levels = ["&a [1,1,1,1,1,1,1,1,1]"]
    for prev, name in zip("abcde", "bcdef"):
        levels.append(f"&{name} [{','.join([f'*{prev}'] * 9)}]")
    return [*c.fit(), "--set", f"train.steps=[{', '.join(levels)}]"]


def _out_is_a_file(c: Ctx) -> list[str]:
    (c.tmp / "run").write_text("mine")
    return c.fit()


def _out_holds_a_foreign_config(c: Ctx) -> list[str]:
    (c.tmp / "run").mkdir()
    (c.tmp / "run" / "config.yaml").write_text("learning_rate: 3\n")
    return c.fit()


@dataclass
class _Payload:
    marker: Path

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _one_channel_data_for_subtract(c: Ctx) -> list[str]:
    return [*c.fit(), "--set", "data.channels=subtract"]  # the tiny set is mono


def _missing_noise_folder(c: Ctx) -> list[str]:
    return [*c.fit(), "--set", f"data.noise.folder={c.tmp / 'noise'}"]


def _poisoned_resume_checkpoint(c: Ctx) -> list[str]:
    run = c.tmp / "run"
    shutil.copytree(c.run, run)
    (run / "fit" / "DONE").unlink()
    (run / "fit" / "checkpoints").mkdir(exist_ok=True)
    torch.save(
        {"format": "sslasd-train-checkpoint", "hook": _Payload(c.tmp / PWNED)},
        run / "fit" / "checkpoints" / "last.pt",
    )
    return [
        "fit",
        "--data",
        str(c.data),
        "--out",
        str(run),
        "--config",
        str(run / "config.yaml"),
        "--no-progress",
    ]


@dataclass
class Case:
    """One refused input: ``make`` builds it and returns argv; the error (its line, and the files
    listed under it) must match ``says``."""

    item: str
    make: Callable[[Ctx], list[str]]
    says: str
    left_absent: str | None = None  # what must not exist afterwards (relative to the scratch folder)
    not_said: str | None = None


REFUSED = [
    Case("1 zero-byte wav in train/", _empty_train_wav, r"--skip-bad.*empty file", "run"),
    Case("3 bundle with a flipped bank", _bundle_with_flipped_bank, r"model\.sslasd: the bundle's checksum"),
    Case(
        "4 bundle with edited metadata", _bundle_with_edited_metadata, r"model\.sslasd: the bundle's checksum"
    ),
    Case(
        "6 download of a missing single file",
        _download_of_a_missing_file,
        r"gone\.pt: HTTP 404",
        "out/gone.pt",
    ),
    Case("8 machine without train/", _no_train_folder, r"pump section 00: .*no normal training clips", "run"),
    Case(
        "8 machine with an empty train/", _empty_train_folder, r"pump section 00: .*no normal training", "run"
    ),
    Case(
        "9 NaN, too short and truncated training audio",
        _nan_short_truncated_train,
        r"3 file\(s\) cannot be used",
        "run",
    ),
    Case("10 detect on a folder without audio", _detect_on_a_folder_without_audio, r"empty: no audio files"),
    Case("11 --set with a YAML tag", _set_with_a_yaml_tag, r"--set .train\.steps=.*: not valid YAML", "run"),
    Case("11 --set with nested aliases", _set_with_an_alias_bomb, r"more than \d+ aliases", "run"),
    Case("13 --out names a file", _out_is_a_file, r"run: is a file; --out must name a run folder"),
    Case(
        "13 --out holds someone else's config.yaml", _out_holds_a_foreign_config, r"run: .*not an sslasd run"
    ),
    Case(
        "18 one-channel data for a two-channel policy",
        _one_channel_data_for_subtract,
        r"\.wav: 1 channel\(s\), but data\.channels=subtract needs 2 .* \(120 such files\)",  # all of train/
        "run",
    ),
    Case(
        "18 a missing noise folder",
        _missing_noise_folder,
        r"noise: data\.noise\.folder is not a folder",
        "run",
    ),
    Case(
        "15 poisoned resume checkpoint",
        _poisoned_resume_checkpoint,
        r"last\.pt: not a readable training checkpoint .*posix\.system",
        not_said="weights_only",
    ),
]


def _one_line(err: str, verb: str) -> str:
    """The error's first line; any further line must be an indented file of a list."""
    lines = err.rstrip("\n").splitlines()
    assert lines and lines[0].startswith(f"sslasd {verb}: error: "), err
    assert "Traceback" not in err and all(line.startswith("  ") for line in lines[1:]), err
    return lines[0]


@pytest.mark.parametrize("case", REFUSED, ids=[c.item for c in REFUSED])
def test_refused_with_one_line(case: Case, tiny_dataset: Path, tiny_run: Path, tmp_path: Path, capfd) -> None:
    argv = case.make(Ctx(tmp_path, tiny_dataset, tiny_run))
    capfd.readouterr()
    assert main(argv) == 1
    err = capfd.readouterr().err
    _one_line(err, argv[0])
    assert re.search(case.says, " ".join(err.split())), err
    assert len(err) < 2000 and not (tmp_path / PWNED).exists()  # nothing a hostile input holds ran
    if case.not_said:
        assert case.not_said not in err
    if case.left_absent:
        assert not (tmp_path / case.left_absent).exists()


# -- 5: a folder that cannot be written, for every verb that writes ----------------------------


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write in: mode 0555, or /sys when running as root."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not os.access(folder, os.W_OK):
            yield folder
        elif Path("/sys").is_dir() and not _writable(Path("/sys")):
            yield Path("/sys")
        else:
            pytest.skip("no folder here refuses writes to this user")
    finally:
        folder.chmod(0o755)


def _writable(folder: Path) -> bool:
    try:
        (folder / "sslasd-probe").mkdir()
    except OSError:
        return False
    (folder / "sslasd-probe").rmdir()
    return True


WRITERS: dict[str, Callable[[Ctx, Path], list[str]]] = {
    "fit --out": lambda c, ro: ["fit", "--data", str(c.data), "--out", str(ro / "run"), *FAST],
    "score --out": lambda c, ro: [
        "score",
        "--run",
        str(c.run),
        "--data",
        str(c.data),
        "--out",
        str(ro / "s"),
    ],
    "detect --json": lambda c, ro: [
        "detect",
        "--run",
        str(c.run),
        str(c.wav("fan", "test")),
        "--json",
        str(ro / "d.json"),
    ],
    "export --out": lambda c, ro: ["export", "--run", str(c.run), "--out", str(ro / "m.sslasd")],
    "report --out": lambda c, ro: ["report", "--run", str(c.run), "--out", str(ro / "r.html")],
    "synth": lambda c, ro: ["synth", str(ro / "data"), "--preset", "tiny"],
}


@pytest.mark.parametrize("verb", list(WRITERS))
def test_an_unwritable_output_folder_is_one_line(
    verb: str, unwritable: Path, tiny_dataset: Path, tiny_run: Path, tiny_scores: Path, tmp_path: Path, capfd
) -> None:
    argv = WRITERS[verb](Ctx(tmp_path, tiny_dataset, tiny_run), unwritable)
    capfd.readouterr()
    assert main(argv) == 1
    assert str(unwritable) in _one_line(capfd.readouterr().err, argv[0])


def test_evaluate_json_into_an_unwritable_folder_is_one_line(
    unwritable: Path, tiny_dataset: Path, tiny_scores: Path, capfd
) -> None:
    argv = [
        "evaluate",
        "--scores",
        str(tiny_scores),
        "--data",
        str(tiny_dataset),
        "--json",
        str(unwritable / "e"),
    ]
    assert main(argv) == 1
    assert str(unwritable) in _one_line(capfd.readouterr().err, "evaluate")


# -- the cases that must work ----------------------------------------------------------------


def test_2_and_7_skip_bad_on_every_verb_that_reads_data(
    tiny_dataset: Path, tiny_run: Path, tmp_path: Path, capsys
):
    """A bad train and a bad test file: every verb names them and offers --skip-bad, which works."""
    c = Ctx(tmp_path, tiny_dataset, tiny_run)
    bad_train, bad_test = c.wav("pump", "train"), c.wav("fan", "test")
    bad_train.write_bytes(b"")
    bad_test.write_bytes(b"RIFF")
    root, run, scores = c.data_copy(), tmp_path / "run", tmp_path / "scores"
    verbs = {
        "data": ["data", "summary", str(root)],
        "fit": [*c.fit(), "--no-floors"],
        # the tiny run was fitted without skip_bad (a run fitted with it skips bad test files too)
        "score": ["score", "--run", str(tiny_run), "--data", str(root), "--out", str(scores)],
        "evaluate": ["evaluate", "--scores", str(scores), "--data", str(root)],
    }
    for verb, argv in verbs.items():
        if verb != "data":
            assert main(argv) == 1, verb
            assert "--skip-bad" in _one_line(capsys.readouterr().err, verb)
        assert main([*argv, "--skip-bad"]) == 0, verb
        printed = "".join(capsys.readouterr().out.split()).replace("│", "")
        if verb == "data":  # listed in full, whatever the terminal width (16)
            assert "".join(bad_train.name.split()) in printed and "…" not in printed
    skipped = json.loads((run / "run.json").read_text())["skipped"]
    assert sorted(Path(s["path"]).name for s in skipped) == sorted([bad_train.name, bad_test.name])


def test_10_detect_scores_a_path_given_twice_once(tiny_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    wav = str(sorted((tiny_dataset / "fan" / "test").glob("*.wav"))[0])
    out = tmp_path / "d.json"
    assert (
        main(
            [
                "detect",
                "--run",
                str(tiny_run),
                wav,
                wav,
                str(Path(wav).parent / "." / Path(wav).name),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert [r["file"] for r in json.loads(out.read_text())["results"]] == [wav]


def test_12_score_folders_are_readable_by_others(tiny_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    assert main(["score", "--run", str(tiny_run), "--data", str(tiny_dataset), "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o755 == 0o755


def test_14_a_score_csv_with_a_bom_is_read(
    tiny_scores: Path, tiny_dataset: Path, tmp_path: Path, capsys
) -> None:
    scores = tmp_path / "scores"
    shutil.copytree(tiny_scores, scores)
    for csv in scores.glob("anomaly_score_*.csv"):
        csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    assert main(["evaluate", "--scores", str(scores), "--data", str(tiny_dataset)]) == 0
    assert "official score" in capsys.readouterr().out
