"""`coronet compress --target-macs 0.5 0.3`: one search, a run folder per target."""

from __future__ import annotations

import json

from coronet.cli.main import main
from coronet.models import load_generator

TINY = ["--ngf", "4", "--load-size", "36", "--crop-size", "32", "--batch-size", "2", "--search-steps", "60",
        "--finetune-steps", "4", "--set", "data.max_train_items=8", "--set", "prune.min_channels=1",
        "--set", "model.ndf=8", "--set", "train.checkpoint_every=0", "--set", "train.sample_every=0"]


def test_one_search_gives_a_model_for_each_target_in_its_own_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compress", *TINY, "--target-macs", "0.3", "0.5"]) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    fork = run_dir / "targets" / "macs0.5"
    main_report = json.loads((run_dir / "report.json").read_text())
    fork_report = json.loads((fork / "report.json").read_text())
    for report, ratio in ((main_report, 0.3), (fork_report, 0.5)):
        g = report["generators"]["G_A"]
        assert report["target"]["ratio"] == ratio and report["target"]["metric"] == "macs"
        assert 0.98 * ratio <= g["achieved_ratio"] <= ratio and not g["forced_landing"]
        assert g["compressed"]["macs"] == g["target_limit"] or g["target_lower"] <= g["compressed"]["macs"]
    assert load_generator(fork / "G_A.json").widths == fork_report["generators"]["G_A"]["group_widths"]
    # the fork left the search when it landed: fewer search steps than the search that went on
    assert fork_report["timing"]["iterations"]["search"] < main_report["timing"]["iterations"]["search"]
    assert json.loads((fork / "config.json").read_text())["prune"]["also"] == []
    rows = main_report["targets"]["models"]
    assert [r["folder"] for r in rows] == ["targets/macs0.5", "."]
    assert rows[0]["macs"] > rows[1]["macs"] and all("psnr" in r for r in rows)
    assert (run_dir / "tradeoff.png").is_file() and "tradeoff.png" in (run_dir / "report.md").read_text()
    assert main(["compress", "--resume", str(run_dir)]) == 0  # a finished run and its forks: outputs again
    assert json.loads((fork / "report.json").read_text())["generators"] == fork_report["generators"]


def test_targets_of_both_kinds_or_not_above_the_own_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compress", *TINY, "--target-macs", "0.3", "5e6"]) == 2
    assert "every target as a share" in capsys.readouterr().err
    assert main(["compress", *TINY, "--target-macs", "0.3", "--set", "prune.also=0.2"]) == 2
    assert "larger than the run's own" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
