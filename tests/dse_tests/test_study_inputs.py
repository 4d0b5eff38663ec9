"""A resumed study scores with the physics it was created with: editing the config.json or
platform file a config points to is caught, not mixed into the study (issue 12, item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from sweep_cases import BASE, cli

import cost_models as cm
from dse.config import load_config
from dse.sweep import StudyMismatch, run_sweep

HF = {
    "model_type": "llama",
    "hidden_size": 1024,
    "num_attention_heads": 16,
    "num_hidden_layers": 8,
    "intermediate_size": 2816,
    "vocab_size": 32000,
    "max_position_embeddings": 2048,
}


def _study(tmp_path: Path, platform: str = "u280") -> Path:
    (tmp_path / "config.json").write_text(json.dumps(HF))
    text = BASE.replace("model: gpt2-medium,", "hf_config: config.json,").replace(
        "platform: u280", f"platform: {platform}"
    )
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_resume_after_editing_config_json_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _study(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    run_sweep(load_config(cfg), trials=30, storage=url, progress=False)
    # the same files: the resume goes on
    run_sweep(load_config(cfg), trials=60, storage=url, resume=True, progress=False)
    (tmp_path / "config.json").write_text(json.dumps({**HF, "num_hidden_layers": 32}))
    with pytest.raises(StudyMismatch, match=r"the workload \(hf_config: config\.json\)"):
        run_sweep(load_config(cfg), trials=90, storage=url, resume=True, progress=False)
    args = ["sweep", str(cfg), "--trials", "90", "--storage", url, "--resume", "-q"]
    code, _, err = cli(args, capsys)
    assert code == 2 and "changed since study 't'" in err and "--set name=NEW" in err
    assert len(optuna.load_study(study_name="t", storage=url).get_trials()) == 60
    # the way out the message gives: a new study for the new physics
    code, _, err = cli([*args, "--set", "name=t32"], capsys)
    assert code == 0, err
    (tmp_path / "config.json").write_text(json.dumps(HF))  # restored: resumes again
    run_sweep(load_config(cfg), trials=90, storage=url, resume=True, progress=False)


def test_resume_after_editing_the_platform_file_is_an_error(tmp_path: Path) -> None:
    board = tmp_path / "board.yaml"
    source = Path(cm.__file__).parent / "platforms" / "u280.yaml"
    board.write_text(source.read_text())
    cfg = _study(tmp_path, platform="board.yaml")
    url = f"sqlite:///{tmp_path / 's.db'}"
    run_sweep(load_config(cfg), trials=30, storage=url, progress=False)
    text = board.read_text()
    edited = text.replace("  dsp: 9024\n", "  dsp: 4512\n", 1)  # half the DSPs
    assert edited != text
    board.write_text(edited)
    with pytest.raises(StudyMismatch, match=r"the platform data of 'board\.yaml'"):
        run_sweep(load_config(cfg), trials=60, storage=url, resume=True, progress=False)


def test_a_study_from_before_the_digests_adopts_them(tmp_path: Path) -> None:
    cfg = _study(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    run_sweep(load_config(cfg), trials=30, storage=url, progress=False)
    study = optuna.load_study(study_name="t", storage=url)
    storage = study._storage
    # what an older dse wrote: no dse:inputs
    storage.set_study_user_attr(study._study_id, "dse:inputs", None)
    run_sweep(load_config(cfg), trials=60, storage=url, resume=True, progress=False)
    assert optuna.load_study(study_name="t", storage=url).user_attrs["dse:inputs"]
    (tmp_path / "config.json").write_text(json.dumps({**HF, "hidden_size": 2048}))
    with pytest.raises(StudyMismatch, match="resolves to another model shape"):
        run_sweep(load_config(cfg), trials=90, storage=url, resume=True, progress=False)
