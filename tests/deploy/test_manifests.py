"""deploy/: the compose file, the Kubernetes manifests and the Procfile parse, validate
against their schemas offline, run only commands the ``ministudio`` CLI accepts, cover every
Celery queue, and name only environment variables the code actually reads."""

import ast
import copy
import functools
import json
import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose

from studio.cli import _parser
from workers.celery_app import QUEUES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.32"
CODE_TREES = ("platform", "plugins", "workers")
ENV_READERS = {"env_str", "env_int", "env_bool", "env_list", "getenv"}


# --- what the code reads ------------------------------------------------------------------


def variables_the_code_reads() -> set[str]:
    """Every literal variable name passed to the settings' ``env_*`` readers, ``getenv`` or
    an ``environ.get`` / ``environ[...]`` anywhere in the platform, plugins and workers."""
    names: set[str] = set()
    for tree in CODE_TREES:
        for path in (ROOT / tree).rglob("*.py"):
            if "tests" not in path.parts:
                names |= _variables_read_by(ast.parse(path.read_text(), str(path)))
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def _variables_read_by(module: ast.Module) -> set[str]:
    # Module constants, for `os.environ.get(ALLOWED_NETWORKS_ENV)`.
    constants = {
        target.id: node.value.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names = set()
    for node in ast.walk(module):
        argument = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in ENV_READERS or (called == "get" and _is_environ(func.value)):
                argument = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            argument = node.slice
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
        elif isinstance(argument, ast.Name) and argument.id in constants:
            names.add(constants[argument.id])
    return names


def _is_environ(node: ast.AST | None) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )


@pytest.fixture(scope="module")
def code_variables() -> set[str]:
    names = variables_the_code_reads()
    # The scan sees the settings module and the plugins, not only a few names.
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MINISTUDIO_TOOLS_ALLOWED_NETWORKS"} <= names
    assert {"DASHSCOPE_API_KEY", "WEB_CONCURRENCY", "MINISTUDIO_CONSOLE_DIR"} <= names
    return names


def env_file_variables(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line.split("=", 1)[0].strip())
    return names


def accepted_command(argv: list[str]) -> None:
    """``argv`` is a ``ministudio`` command the real CLI parses (argparse exits otherwise)."""
    assert argv[0] == "ministudio", argv
    _parser().parse_args(argv[1:])


def worker_queues(argv: list[str]) -> set[str]:
    options = _parser().parse_args(argv[1:])
    return set(options.queues.split(",")) if options.command == "worker" else set()


# --- docker compose -----------------------------------------------------------------------

COMPOSE_VARIABLES = {
    "POSTGRES_PASSWORD": "secret",
    "MINISTUDIO_IMAGE": "ministudio:test",
    "MINISTUDIO_GPU_IMAGE": "ministudio-gpu:test",
    "MINISTUDIO_PORT": "8000",
    "WEB_REPLICAS": "2",
    "VLLM_MODEL": "smol",
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """What ``docker compose`` does to ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if variables.get(name):
            return variables[name]
        if operator and operator.endswith("?"):
            raise AssertionError(f"{name} is required: {argument}")
        return argument or ""

    return _INTERPOLATION.sub(substitute, text).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    text = interpolate((DEPLOY / "compose.yaml").read_text(), COMPOSE_VARIABLES)
    return yaml.safe_load(text)  # PyYAML resolves the `<<: *ministudio` merge keys


def validated_compose(spec: dict) -> PyCompose:
    without_extensions = {k: v for k, v in spec.items() if not k.startswith("x-")}
    return PyCompose.from_json(json.dumps(without_extensions))


def platform_services(compose: dict) -> dict[str, dict]:
    """Services that run the ministudio image (the others are Postgres, Redis, nginx, vLLM)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("ministudio")
    }


def test_the_compose_file_is_valid_compose(compose):
    assert validated_compose(compose).service_names() == list(compose["services"])


def test_the_compose_validator_refuses_a_typo(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["restrat"] = "always"
    with pytest.raises(ValueError, match="restrat"):
        validated_compose(broken)


def test_compose_runs_every_process_the_issue_names(compose):
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "worker-batch",
        "beat",
        "proxy",
        "worker-gpu",
        "vllm",
    }
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["vllm"]["profiles"] == ["vllm"]
    assert services["worker-gpu"]["build"]["args"] == {"EXTRAS": "vllm"}
    # Nothing starts before the migrations have run.
    for name in ("web", "worker", "worker-batch", "beat", "worker-gpu"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_compose_commands_are_ministudio_commands_covering_every_queue(compose):
    consumed = set()
    for service in platform_services(compose).values():
        accepted_command(service["command"])
        consumed |= worker_queues(service["command"])
    assert consumed == set(QUEUES)
    assert compose["services"]["beat"]["command"] == ["ministudio", "beat"]


def test_compose_names_only_variables_the_code_reads(compose, code_variables):
    for name, service in platform_services(compose).items():
        assert set(service["environment"]) <= code_variables, name
        assert service["env_file"] == "ministudio.env"
    assert env_file_variables(DEPLOY / "ministudio.env.example") <= code_variables


def test_compose_interpolates_only_its_documented_variables():
    used = {m.group(1) for m in _INTERPOLATION.finditer((DEPLOY / "compose.yaml").read_text())}
    assert used == env_file_variables(DEPLOY / "compose.env.example") == set(COMPOSE_VARIABLES)


SECRETS = {
    "SECRET_KEY",
    "MINISTUDIO_ENCRYPTION_KEYS",
    "MINISTUDIO_ADMIN_PASSWORD",
    "DASHSCOPE_API_KEY",
    "OPENAI_API_KEY",
}


def test_secrets_are_never_baked_in(compose):
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")  # joined lines
    settings_lines = [
        line for line in dockerfile.splitlines() if line.split()[:1] in (["ENV"], ["ARG"])
    ]
    assert settings_lines  # the check reads the Dockerfile's ENV and ARG lines
    assert not [line for line in settings_lines for name in SECRETS if name in line]
    for service in platform_services(compose).values():
        assert not SECRETS & set(service["environment"])  # from the env file only
    config = next(d for _, d in manifests() if d["kind"] == "ConfigMap")
    assert not SECRETS & set(config["data"])  # the Secret's, not the ConfigMap's


# --- Kubernetes ---------------------------------------------------------------------------


def kustomizations() -> list[Path]:
    return sorted(DEPLOY.glob("k8s/**/kustomization.yaml"))


@functools.cache  # read once: parametrization, ids and several tests ask; none mutates
def manifests() -> list[tuple[str, dict]]:
    documents = []
    for kustomization in kustomizations():
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        for name in listed:
            path = kustomization.parent / name
            for document in yaml.safe_load_all(path.read_text()):
                documents.append((f"{path.relative_to(DEPLOY)}", document))
    return documents


def containers(document: dict) -> list[dict]:
    spec = document.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("containers", [])


def test_every_manifest_is_listed_in_a_kustomization():
    listed = {
        (kustomization.parent / name).resolve()
        for kustomization in kustomizations()
        for name in yaml.safe_load(kustomization.read_text())["resources"]
    }
    on_disk = {
        path.resolve()
        for path in DEPLOY.glob("k8s/**/*.yaml")
        if path.name not in {"kustomization.yaml", "secret.example.yaml"}
    }
    assert listed == on_disk


@pytest.mark.parametrize(
    ("source", "document"),
    manifests(),
    ids=[f"{source}:{d['kind']}/{d['metadata']['name']}" for source, d in manifests()],
)
def test_every_manifest_is_valid_kubernetes(source, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_refuses_a_typo():
    documents = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    web = documents[("Deployment", "ministudio-web")]
    broken = copy.deepcopy(web)
    broken["spec"]["template"]["spec"]["containers"][0]["imagee"] = "ministudio"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_secret_example_is_valid_and_names_only_variables_the_code_reads(code_variables):
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    assert set(secret["stringData"]) <= code_variables


def test_kubernetes_names_only_variables_the_code_reads(code_variables):
    for source, document in manifests():
        if document["kind"] == "ConfigMap":
            assert set(document["data"]) <= code_variables, source
        for container in containers(document):
            if container["image"].startswith("ministudio"):
                names = {variable["name"] for variable in container.get("env", [])}
                assert names <= code_variables, source


def test_kubernetes_runs_ministudio_commands_covering_every_queue():
    consumed = set()
    for _, document in manifests():
        for container in containers(document):
            if container["image"].startswith("ministudio"):
                accepted_command(container["command"])
                consumed |= worker_queues(container["command"])
    assert consumed == set(QUEUES)


def test_platform_pods_wait_for_the_migrations():
    deployments = [d for _, d in manifests() if d["kind"] == "Deployment"]
    platform = [d for d in deployments if containers(d)[0]["image"].startswith("ministudio")]
    assert len(platform) == 5
    for deployment in platform:
        [init] = deployment["spec"]["template"]["spec"]["initContainers"]
        assert "ministudio manage migrate --check" in init["command"][-1]
        assert init["image"] == containers(deployment)[0]["image"]


def test_web_pods_probe_real_health_endpoints_and_scale():
    documents = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    [web] = containers(documents[("Deployment", "ministudio-web")])
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert web["resources"]["requests"]
    hpa = documents[("HorizontalPodAutoscaler", "ministudio-web")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ministudio-web"
    annotations = documents[("Ingress", "ministudio")]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    gpu = documents[("Deployment", "ministudio-worker-vllm")]["spec"]["template"]["spec"]
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


# --- Procfile -----------------------------------------------------------------------------


def test_the_procfile_runs_web_worker_and_beat_as_ministudio_commands():
    processes = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        name, command = line.split(":", 1)
        processes[name] = shlex.split(command.replace("${PORT:-8000}", "8000"))
    assert set(processes) == {"release", "web", "worker", "beat"}
    consumed = set()
    for argv in processes.values():
        accepted_command(argv)
        consumed |= worker_queues(argv)
    assert consumed == {"ingest", "batch", "default"}  # batch-vllm: GPU machines only


def test_every_variable_the_code_reads_is_documented(code_variables):
    readme = (ROOT / "README.md").read_text()
    assert sorted(name for name in code_variables if f"`{name}`" not in readme) == []
