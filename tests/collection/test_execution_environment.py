# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX execution environment and the EDA decision environment, as ansible-builder sees them.

Builds the collection tarball from this checkout, puts it beside a verbatim copy of
``execution-environment.yml`` (``decision-environment.yml``) and runs ``ansible-builder create``
offline: every socket connection refused, no container runtime on PATH. Then reads the build
context: the base image (the one docs/awx.md names), the pins (requirements.txt's), the
collection tarball (byte for byte the one built, named after galaxy.yml), the requirement files
(what the definition lists). Then does, without a container, what the image build's galaxy and
builder stages do with that context: ``ansible-galaxy collection install -r requirements.yml``
in ``_build`` and ``ansible-builder introspect`` of the installed collection, which must add no
requirement to the definition's. The image build itself pulls the base image from a registry
this machine cannot reach: not run here (docs/awx.md).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
DEFINITIONS = ("execution-environment.yml", "decision-environment.yml")

# Runs a console script with the network refused: no TCP/UDP connect, no name lookup (a numeric
# address still resolves: ansible-core checks getaddrinfo('127.0.0.1', ...) when it loads).
OFFLINE = r"""
import ipaddress, runpy, socket, sys

def refuse(what):
    raise OSError("offline test: network use refused: %r" % (what,))

real_getaddrinfo, real_connect, real_connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

def getaddrinfo(host, *args, **kwargs):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        refuse(host)
    return real_getaddrinfo(host, *args, **kwargs)

def guard(real):
    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address)
        return real(sock, address)
    return connect

socket.getaddrinfo = getaddrinfo
socket.socket.connect, socket.socket.connect_ex = guard(real_connect), guard(real_connect_ex)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def offline(script, args, cwd, **more_env):
    """(rc, output) of .venv/bin/<script> run offline with only the venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = BIN   # no podman, no docker
    env.update(more_env)
    proc = subprocess.run([sys.executable, "-c", OFFLINE, os.path.join(BIN, script)] + args, cwd=str(cwd),
                          env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def ok(script, args, cwd, **more_env):
    rc, out = offline(script, args, cwd, **more_env)
    assert rc == 0, "%s %s failed (rc=%d):\n%s" % (script, " ".join(args), rc, out[-4000:])
    return out


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def pins():
    """{name: 'name==version'} of requirements.txt."""
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        lines = [line.split("#")[0].strip() for line in f]
    return {line.split("==")[0]: line for line in lines if "==" in line}


GALAXY = load(os.path.join(ROOT, "galaxy.yml"))
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    ok("ansible-galaxy", ["collection", "build", "--output-path", str(out), ROOT], out)
    built = sorted(p.name for p in out.iterdir())
    assert built == [TARBALL]
    return out / TARBALL


def create(definition_text, tarball, work):
    """ansible-builder create on the definition text, the tarball beside it: (rc, output, context)."""
    (work / "execution-environment.yml").write_text(definition_text)
    shutil.copy(str(tarball), str(work / tarball.name))
    context = work / "context"
    rc, out = offline("ansible-builder", ["create", "-f", "execution-environment.yml", "-c", str(context),
                                          "--output-filename", "Containerfile", "-v3"], work)
    return rc, out, context


@pytest.fixture(scope="module", params=DEFINITIONS)
def built(request, tarball, tmp_path_factory):
    """The definition, the ansible-builder create output and the build context of one file."""
    with open(os.path.join(ROOT, request.param)) as f:
        text = f.read()
    work = tmp_path_factory.mktemp(request.param.split(".")[0])
    rc, out, context = create(text, tarball, work)
    assert rc == 0, "ansible-builder create -f %s failed (rc=%d):\n%s" % (request.param, rc, out[-4000:])
    return {"name": request.param, "definition": yaml.safe_load(text), "output": out, "context": context,
            "containerfile": (context / "Containerfile").read_text(), "tarball": tarball}


def arg(containerfile, name):
    match = re.search(r'^ARG %s="([^"]*)"$' % name, containerfile, re.M)
    assert match, "no ARG %s in the Containerfile" % name
    return match.group(1)


def test_definitions_stay_out_of_the_collection_and_the_collection_declares_no_requirements(tarball):
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    assert not set(DEFINITIONS) & set(names)
    assert "meta/execution-environment.yml" in names
    assert load(os.path.join(ROOT, "meta", "execution-environment.yml"))["dependencies"] == {}


def test_schema_version_3_and_the_documented_base_image(built):
    definition = built["definition"]
    assert definition["version"] == 3
    image = definition["images"]["base_image"]["name"]
    assert arg(built["containerfile"], "EE_BASE_IMAGE") == image
    assert re.search(r"^FROM \$EE_BASE_IMAGE AS base$", built["containerfile"], re.M)
    with open(os.path.join(ROOT, "docs", "awx.md")) as f:
        assert "`%s`" % image in f.read(), "docs/awx.md does not name the base image %s" % image
    python = definition["dependencies"]["python_interpreter"]
    assert arg(built["containerfile"], "PYCMD") == python["python_path"]
    assert arg(built["containerfile"], "PYPKG") == python["package_system"]


def test_ansible_core_pinned_as_requirements_txt(built):
    refs = arg(built["containerfile"], "ANSIBLE_INSTALL_REFS").split()
    assert refs[0] == pins()["ansible-core"]
    assert re.match(r"^ansible-runner==[0-9.]+$", refs[1]) and len(refs) == 2


def test_the_collection_built_from_this_checkout_is_what_the_image_installs(built):
    definition = built["definition"]
    assert definition["additional_build_files"] == [{"src": TARBALL, "dest": "collections"}]
    copied = built["context"] / "_build" / "collections" / TARBALL
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (copied, built["tarball"])]
    assert digest[0] == digest[1]
    requirements = load(str(built["context"] / "_build" / "requirements.yml"))
    assert requirements == definition["dependencies"]["galaxy"]
    assert requirements == {"collections": [{"name": "collections/" + TARBALL, "type": "file"}]}
    # The galaxy stage: _build copied to /build, requirements.yml installed from there.
    stage = built["containerfile"].split("FROM base AS galaxy", 1)[1].split("FROM base AS builder", 1)[0]
    assert "COPY _build /build\nWORKDIR /build\n" in stage
    assert re.search(r"^RUN .*ansible-galaxy collection install .*-r requirements\.yml ", stage, re.M)
    assert [tag.rsplit(":", 1)[1] for tag in definition["options"]["tags"]] == [GALAXY["version"]]


def test_requirement_files_list_what_the_definition_says(built):
    dependencies = built["definition"]["dependencies"]
    build = built["context"] / "_build"
    bindep = [line for line in (build / "bindep.txt").read_text().splitlines() if line.strip()]
    assert bindep == dependencies["system"]
    assert any(line.startswith("openssh-clients ") for line in bindep)
    python = dependencies.get("python", [])
    if python:
        assert (build / "requirements.txt").read_text().split() == python
    else:
        assert not (build / "requirements.txt").exists()
    if built["name"] == "decision-environment.yml":
        assert python == [pins()["ansible-rulebook"]]
        assert any(line.startswith("java-17-openjdk-headless ") for line in bindep)


def test_the_image_stages_install_the_collection_and_introspection_adds_nothing(built, tmp_path):
    """What the galaxy stage (ansible-galaxy in /build) and the builder stage (introspect) do."""
    collections = tmp_path / "collections"
    # As in the image, where the target is the only collections path: a copy installed in
    # ~/.ansible/collections (Molecule puts one there) must not make the install a no-op.
    ok("ansible-galaxy", ["collection", "install", "-r", "requirements.yml", "-p", str(collections)],
       built["context"] / "_build", ANSIBLE_COLLECTIONS_PATH=str(collections))
    installed = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (
        GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    written = {"pip": tmp_path / "pip.txt", "bindep": tmp_path / "bindep.txt"}
    args = ["introspect", "--user-bindep", str(built["context"] / "_build" / "bindep.txt"),
            "--write-pip", str(written["pip"]), "--write-bindep", str(written["bindep"])]
    if (built["context"] / "_build" / "requirements.txt").exists():
        args += ["--user-pip", str(built["context"] / "_build" / "requirements.txt")]
    ok("ansible-builder", args + [str(collections)], tmp_path)
    found = {k: [line.split("#")[0].strip() for line in p.read_text().splitlines() if line.strip()]
             if p.exists() else [] for k, p in written.items()}
    dependencies = built["definition"]["dependencies"]
    assert found == {"pip": dependencies.get("python", []), "bindep": dependencies["system"]}


@pytest.mark.parametrize("broken, named", [
    (("additional_build_files:", "additional_build_file:"), "additional_build_file"),
    (("version: 3", "version: 4"), "Unsupported schema version"),
    (("  ansible_core:\n    package_pip:", "  ansible_core:\n    pip_package:"), "pip_package"),
])
def test_a_broken_definition_fails_create(tarball, tmp_path, broken, named):
    with open(os.path.join(ROOT, "execution-environment.yml")) as f:
        text = f.read()
    assert broken[0] in text
    rc, out, context = create(text.replace(broken[0], broken[1], 1), tarball, tmp_path)
    assert rc != 0 and named in out
    assert not (context / "Containerfile").exists()
