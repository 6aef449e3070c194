#!/usr/bin/env python3
"""Build a one-layer busybox image from the host's busybox-static, with no registry:
`image.py OUT.tar NAME [ENTRYPOINT...]` (NAME like docker.io/library/husk-busybox:latest;
an entrypoint makes, say, a pause image for a CRI sandbox).

The tarball is both an oci-layout (for `ctr image import` and podman) and a `docker save`
archive (manifest.json, which Docker 20.10's `docker load` needs), over the same blobs."""
import hashlib, io, json, os, shutil, subprocess, sys, tarfile

out, name, entrypoint = sys.argv[1], sys.argv[2], sys.argv[3:]
busybox = shutil.which("busybox")
applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()

def add_dir(t, path):
    i = tarfile.TarInfo(path); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for d in ["bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "run"]:
        add_dir(t, d)
    t.add(busybox, arcname="bin/busybox")
    for a in applets:
        if a == "busybox":
            continue
        i = tarfile.TarInfo("bin/" + a); i.type = tarfile.SYMTYPE; i.linkname = "busybox"; t.addfile(i)
    for fname, text in [("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"),
                        ("etc/group", "root:x:0:\nnobody:x:65534:\n")]:
        data = text.encode(); i = tarfile.TarInfo(fname); i.size = len(data); i.mode = 0o644
        t.addfile(i, io.BytesIO(data))
layer = layer.getvalue()

def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data

layer_digest, _ = blob(layer)
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": dict({"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/"},
                   **({"Entrypoint": entrypoint, "Cmd": None} if entrypoint else {})),
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
}).encode()
config_digest, _ = blob(config)
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
}).encode()
manifest_digest, _ = blob(manifest)
index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                   "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"},
                   "annotations": {"io.containerd.image.name": name,
                                   "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}}],
}).encode()

with tarfile.open(out, "w") as t:
    def put(path, data):
        i = tarfile.TarInfo(path); i.size = len(data); i.mode = 0o644; t.addfile(i, io.BytesIO(data))
    put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    put("index.json", index)
    for d, data in [(layer_digest, layer), (config_digest, config), (manifest_digest, manifest)]:
        put("blobs/sha256/" + d.split(":")[1], data)
    short = name.split("/")[-1] if name.startswith("docker.io/library/") else name
    put("manifest.json", json.dumps([{
        "Config": "blobs/sha256/" + config_digest.split(":")[1],
        "RepoTags": [short],
        "Layers": ["blobs/sha256/" + layer_digest.split(":")[1]],
    }]).encode())
