"""The dependency lists agree: pyproject.toml, environment.yml and requirements.lock pin the same versions."""
import re
import tomllib

import yaml

from c360.paths import PROJ_ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if m:
            out[_norm(m[1])] = m[2]
    return out


def test_environment_yml_matches_pyproject():
    project = _pins(tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    env = yaml.safe_load((PROJ_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == project


def test_lock_pins_every_direct_dependency_at_the_same_version():
    project = _pins(tomllib.loads((PROJ_ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    lock = _pins((PROJ_ROOT / "requirements.lock").read_text().splitlines())
    assert {k: lock.get(k) for k in project} == project
