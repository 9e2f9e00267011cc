"""`nnpm modularize cnn`: bad arguments give one clear line and a non-zero exit; a tiny run works."""

from __future__ import annotations

import json

import pytest

from nnpm.cli import main


def _fails(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["modularize", "cnn", *args])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--arch", "alexnet"], "unknown architecture"),
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--dataset", "cifar10"], "--data-dir"),
        (["--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "does not exist"),
        (["--tau", "0"], "tau must be in (0, 1]"),
        (["--tau", "1.5"], "tau must be in (0, 1]"),
        (["--generator-lr-scale", "-1"], "generator_lr_scale must be a finite number >= 0"),
    ],
)
def test_bad_arguments_give_one_line(args, needle, capsys, workdir) -> None:
    assert needle in _fails(args, capsys)


def test_tiny_run_writes_packages_and_json(capsys, workdir) -> None:
    main(
        [
            "-q",
            "modularize",
            "cnn",
            "--arch",
            "rescnn",
            "--width",
            "0.0625",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--namespace",
            "t",
            "--out",
            "out",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert report["model_package"] == "t/rescnn==1.0.0"
    assert len(report["modules"]) == 10
    assert (workdir / "out" / "rescnn" / "nnpm.toml").is_file()
    assert (workdir / "out" / "digit-7-module" / "weights.safetensors").is_file()
