"""Docker is not available here: the image and compose.yaml are checked by what they run. Every
command they give is one the project has, and the jars the image fetches are the ones the
local stack uses."""

from __future__ import annotations

import importlib.util
import re
import shlex
import xml.etree.ElementTree as ElementTree

import yaml

from app.jobs.__main__ import build_parser
from tests.support import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
OURS = {name: service for name, service in COMPOSE["services"].items() if "build" in service}


def image_command() -> list[str]:
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert cmd is not None
    return yaml.safe_load(cmd.group(1))


def check_runs_a_project_command(argv: list[str]) -> None:
    """`python -m MODULE ...`, where MODULE is ours and runnable, and app.jobs' arguments parse."""
    assert argv[:2] == ["python", "-m"], argv
    module = argv[2]
    assert module.split(".")[0] == "app", module
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module
    if module == "app.jobs":
        build_parser().parse_args(argv[3:])  # exits on an unknown command or argument


def test_every_compose_service_built_here_runs_a_command_the_project_has():
    assert set(OURS) == {"api", "spark", "metabase-setup"}
    for name, service in OURS.items():
        if name == "api":
            assert "command" not in service, "the api runs the image's command, tested below"
        else:
            check_runs_a_project_command(service["command"])
    assert OURS["spark"]["command"][3] == "spark", "the Spark stream runs as its own service"


def test_the_image_command_runs_prestart_then_the_service():
    shell, flag, script = image_command()
    assert (shell, flag) == ("sh", "-c")
    for step in script.split("&&"):
        check_runs_a_project_command(shlex.split(step.strip().removeprefix("exec ")))


def test_the_image_fetches_the_local_stacks_spark_jars_at_build_time():
    default = re.search(r"^ARG SPARK_JARS_PACKAGES=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert default is not None
    pom = ElementTree.parse(REPO_ROOT / "devstack" / "spark" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    parts = ("groupId", "artifactId", "version")
    dependencies = {
        ":".join(dependency.findtext(f"m:{part}", namespaces=ns) for part in parts)
        for dependency in pom.iterfind("m:dependencies/m:dependency", ns)
    }
    assert set(default.group(1).split(",")) == dependencies
    fetch = re.search(r"^RUN (python -m app\.jobs spark-jars .*)$", DOCKERFILE, re.MULTILINE)
    assert fetch is not None
    argv = shlex.split(fetch.group(1).replace('"$SPARK_JARS_PACKAGES"', default.group(1)))
    check_runs_a_project_command(argv)
    target = argv[4]
    assert re.search(rf"\bSPARK_JARS={re.escape(target)}\s", DOCKERFILE), "the job reads them"


def test_the_spark_service_keeps_its_checkpoint_on_a_volume():
    checkpoint = re.search(r"SPARK_CHECKPOINT_DIR=(\S+)", DOCKERFILE)
    assert checkpoint is not None
    mounts = [volume.split(":", 1) for volume in OURS["spark"]["volumes"]]
    assert [(name, path) for name, path in mounts if path == checkpoint.group(1)] == [
        ("spark-checkpoint", checkpoint.group(1))
    ]
    assert "spark-checkpoint" in COMPOSE["volumes"]
