"""Workload generators for bench/sync.py: deterministic trees, ext4 images, zips."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import zipfile

FIXED_TIME = 1_700_000_000
WORDS = ("le la les un une des école élève maître classe lecture écriture calcul histoire géographie "
         "sciences musique dessin récréation cantine cahier stylo livre tableau projecteur tablette "
         "commune agglomération numérique plan ressource séquence exercice corrigé évaluation").split()


def text(rnd: random.Random, size: int) -> bytes:
    out = []
    n = 0
    while n < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 15))) + f" {rnd.randint(0, 99999)}\n"
        out.append(line)
        n += len(line.encode())
    return "".join(out).encode()[:size]


def binary(rnd: random.Random, size: int) -> bytes:
    """Program-like data: half random, half structured (compresses partly)."""
    out = bytearray()
    while len(out) < size:
        if rnd.random() < 0.5:
            out += os.urandom(4096)
        else:
            out += bytes(rnd.randrange(16) for _ in range(64)) * 64
    return bytes(out[:size])


def media(size: int, rnd: random.Random | None = None) -> bytes:
    """Already-compressed data (JPEG, video): incompressible."""
    return rnd.randbytes(size) if rnd is not None else os.urandom(size)


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def fix_times(root: str, t: int = FIXED_TIME) -> None:
    for d, dn, fn in os.walk(root):
        for n in dn + fn:
            os.utime(os.path.join(d, n), (t, t), follow_symlinks=False)
    os.utime(root, (t, t))


def touch(path: str, t: int = FIXED_TIME + 86400) -> None:
    """A changed file gets a later mtime, as a real edit would (rsync's quick check relies on it)."""
    os.utime(path, (t, t))


def make_tree(root: str, nfiles: int, scale: float, seed: int) -> None:
    """Documents (text), images (incompressible), video-like files: ~2000 files at scale 1."""
    rnd = random.Random(seed)
    for i in range(nfiles):
        kind = rnd.random()
        sub = f"cycle{i % 3}/classe{i % 11}/sequence{i % 37}"
        if kind < 0.75:
            write(os.path.join(root, sub, f"doc{i:05d}.txt"), text(rnd, int(rnd.randint(2_000, 40_000) * scale) + 100))
        elif kind < 0.95:
            write(os.path.join(root, sub, f"image{i:05d}.jpg"), media(int(rnd.randint(50_000, 400_000) * scale) + 100))
        else:
            write(os.path.join(root, "videos", f"video{i:05d}.mp4"), media(int(rnd.randint(1_000_000, 6_000_000) * scale) + 100))
    fix_times(root)


def mutate_tree(root: str, seed: int, scale: float) -> None:
    """Edits, appends, renames/moves, deletions, additions."""
    rnd = random.Random(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    rnd.shuffle(files)
    n = len(files)
    edits, appends = files[: n // 20], files[n // 20: n // 20 + n // 50]
    moves = files[n // 10: n // 10 + n * 3 // 100]
    deletes = files[n // 5: n // 5 + n // 50]
    for p in edits:
        data = bytearray(open(p, "rb").read())
        pos = rnd.randrange(len(data))
        data[pos:pos + 20] = b"correction du texte!"
        open(p, "wb").write(data)
        touch(p)
    for p in appends:
        with open(p, "ab") as f:
            f.write(text(rnd, 2000))
        touch(p)
    for i, p in enumerate(moves):
        dst = os.path.join(root, "archives", f"y{i % 5}", os.path.basename(p))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(p, dst)
    for p in deletes:
        os.unlink(p)
    for i in range(max(1, n // 50)):
        write(os.path.join(root, "nouveau", f"new{i}.txt"), text(rnd, int(20_000 * scale) + 100))
        touch(os.path.join(root, "nouveau", f"new{i}.txt"))


def mkfs(src: str, img: str, size_mb: int) -> None:
    env = dict(os.environ, E2FSPROGS_FAKE_TIME=str(FIXED_TIME))
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-U", "0f0e0d0c-0b0a-0908-0706-050403020100",
                    "-E", "hash_seed=00112233-4455-6677-8899-aabbccddeeff,root_owner=0:0",
                    "-d", src, img, f"{size_mb}M"], check=True, env=env)


def make_image_tree(root: str, total: int, seed: int) -> None:
    """A system-like tree: many small config/text files, libraries, a few big files."""
    rnd = random.Random(seed)
    n = 0
    i = 0
    while n < total:
        r = rnd.random()
        if r < 0.6:
            size, data_fn = rnd.randint(200, 8_000), text
        elif r < 0.95:
            size, data_fn = rnd.randint(10_000, 600_000), binary
        else:
            size, data_fn = rnd.randint(2_000_000, 12_000_000), binary
        size = min(size, total - n) or 1
        write(os.path.join(root, f"usr/pkg{i % 97}/lib{i % 13}", f"f{i:06d}"), data_fn(rnd, size))
        n += size
        i += 1
    fix_times(root)


def upgrade_image_tree(root: str, seed: int) -> None:
    """Like a package upgrade: some packages replaced, some removed, some added."""
    rnd = random.Random(seed)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    rnd.shuffle(files)
    n = len(files)
    for p in files[: n // 20]:  # rewritten (new package version)
        size = os.path.getsize(p)
        open(p, "wb").write(binary(rnd, size + rnd.randint(0, 2000)))
    for p in files[n // 20: n // 20 + n // 40]:
        os.unlink(p)
    for i in range(n // 30):
        write(os.path.join(root, "usr/newpkg", f"n{i}"), binary(rnd, rnd.randint(1000, 100_000)))
    fix_times(root)


def scatter(img_in: str, img_out: str, fraction: float, seed: int) -> int:
    shutil.copyfile(img_in, img_out)
    rnd = random.Random(seed)
    blocks = os.path.getsize(img_out) // 4096
    chosen = rnd.sample(range(blocks), int(blocks * fraction))
    with open(img_out, "r+b") as f:
        for b in sorted(chosen):
            f.seek(b * 4096)
            f.write(os.urandom(4096))
    touch(img_out)
    return len(chosen)


def make_zips(root: str, nzips: int, members: int, scale: float, seed: int, changed: int = 0) -> None:
    rnd = random.Random(seed)
    for z in range(nzips):
        mrnd = random.Random(seed * 1000 + z)
        path = os.path.join(root, f"ressources/pack{z:03d}.zip")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        change = set(rnd.sample(range(members), changed)) if changed else set()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for m in range(members):
                data = text(mrnd, int(mrnd.randint(2000, 60000) * scale) + 100) if m % 3 else media(int(mrnd.randint(20000, 200000) * scale) + 100, mrnd)
                if m in change:
                    data = data[: len(data) // 2] + b"nouvelle version" + data[len(data) // 2:]
                info = zipfile.ZipInfo(f"m{m:03d}.{'txt' if m % 3 else 'png'}", date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    fix_times(root, FIXED_TIME + (86400 if changed else 0))
