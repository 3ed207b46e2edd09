"""The `coronet` command line: `profile` output and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from coronet.cli.main import main
from coronet.models import get_generator, save_generator
from coronet.pruning import hypernetize, materialize


def test_profile_json_prints_the_published_resnet_counts(capsys):
    assert main(["profile", "--netG", "resnet_9blocks", "--ngf", "64", "--size", "256", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["macs"] == 56_799_264_768
    assert report["params"] == 11_378_179
    assert report["counter"].startswith("torchprofile ")
    assert report["compact"] is False


def test_profile_json_prints_the_unet_counts(capsys):
    assert main(["profile", "--netG", "unet_256", "--ngf", "64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["macs"], report["params"]) == (18_143_334_400, 54_413_955)


def test_profile_of_an_exported_generator(tmp_path, capsys):
    hyper = hypernetize(get_generator("resnet_9blocks", ngf=4))
    hyper.latents.set_alive("trunk", torch.arange(16) < 6)
    compact = materialize(hyper)
    save_generator(compact, tmp_path / "G")
    assert main(["profile", str(tmp_path / "G.safetensors"), "--size", "64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compact"] is True and report["widths"]["trunk"] == 6
    assert report["macs"] == hyper.cost_model((64, 64)).macs(hyper.widths())


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["profile", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.json" in err and "Traceback" not in err
    assert main(["profile", "--size", "0"]) == 2
    assert "--size" in capsys.readouterr().err


def test_console_script_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "coronet.cli.main", "profile", "--netG",
                          "resnet_6blocks", "--ngf", "8", "--size", "64", "--json"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["generator"] == "resnet_6blocks"


def test_readme_library_example_runs(tmp_path, monkeypatch, capsys):
    """The README's Python example is executed as written (it must land inside the window)."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    status = namespace["controller"].status()
    assert status.landed and 0.98 * 0.25 <= status.ratio <= 0.25
    assert (tmp_path / "G_compact.safetensors").is_file()
    assert "step 20: " in capsys.readouterr().out  # it says how far it is while it runs
