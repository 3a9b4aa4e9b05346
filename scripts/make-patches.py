#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turn this repo into a git-format-patch series against the pristine base.

    make-patches.py              write build/patches/0000-cover-letter.patch ...
    make-patches.py --rev HEAD   the same from a commit instead of the
                                 working tree (others may be mid-edit)
    make-patches.py --list       only show which commit gets what

The commits and their messages are in scripts/series-plan.  Our files are
the OWNED and ADDED files of scripts/build-qemu.sh, everything under
tests/qtest/ and the entries of patches/series.  The plan names them
exactly or with globs; an exact name wins over a glob, an earlier block's
glob over a later one's.  A file that nothing names is an error, so the
series is always the whole patch set.

An entry of patches/series that the plan does not name is placed by rule:
- if its added lines name a file of ours (a meson.build line naming
  'foo.c', say), it is folded into the last commit holding such a file,
  and its subject and body are added to that commit's message;
- otherwise it is a commit of its own, with its own From:, Subject: and
  body, placed where patches/series puts it.
The plan may apply the patches in another order than patches/series, but
the series must end in the very tree scripts/build-qemu.sh stages.

A block with "rev: REV" is a snapshot step: the files it names are laid
over the tree as they were at revision REV of this repo, and the patches
it names are brought to their content at REV (a patch applied before in
another version is swapped as quilt would: the patches applied after it
are popped, it is reversed and applied in its new version, and they are
pushed again).  Snapshot blocks own nothing: every
file and patch must still be named by a block without rev:, which gives
its final content; a file or patch that is already at that content is
left alone.  So a feature's history can be told step by step, and the
last block naming a file absorbs whatever changed after the last
snapshot.
Every file the series creates must carry an SPDX-License-Identifier.
"""

import argparse
import fcntl
import fnmatch
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
PRISTINE = os.path.join(BUILD, "pristine")
BASE_REPO = os.path.join(BUILD, "series", "base")
OUT = os.path.join(BUILD, "patches")
AUTHOR = "vNVDIMM developers <vnvdimm@example.invalid>"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "vNVDIMM developers",
    "GIT_AUTHOR_EMAIL": "vnvdimm@example.invalid",
    "GIT_COMMITTER_NAME": "vNVDIMM developers",
    "GIT_COMMITTER_EMAIL": "vnvdimm@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def die(msg):
    sys.exit(f"make-patches: {msg}")


def git(repo, *args, capture=False, env=None):
    e = dict(os.environ, **GIT_ENV)
    e.update(env or {})
    r = subprocess.run(["git", "-C", repo, *args], env=e, check=True,
                       text=True, capture_output=capture)
    return r.stdout if capture else None


class Source:
    """Our files, from the working tree or from one commit of the repo."""

    def __init__(self, rev=None):
        self.rev = rev
        if rev:
            out = git(TOP, "ls-tree", "-r", "--name-only", rev, capture=True)
            self.paths = set(out.split())

    def exists(self, path):
        if self.rev:
            return path in self.paths
        return os.path.isfile(os.path.join(TOP, path))

    def read_bytes(self, path):
        if self.rev:
            return subprocess.run(["git", "-C", TOP, "show",
                                   f"{self.rev}:{path}"], check=True,
                                  capture_output=True).stdout
        with open(os.path.join(TOP, path), "rb") as f:
            return f.read()

    def read(self, path):
        return self.read_bytes(path).decode()

    def under(self, folder):
        if self.rev:
            return sorted(p for p in self.paths
                          if p.startswith(folder + "/"))
        found = []
        for root, _, names in os.walk(os.path.join(TOP, folder)):
            for n in names:
                found.append(os.path.relpath(os.path.join(root, n), TOP))
        return sorted(found)


def bash_array(text, name):
    """The words of NAME=( ... ) in a bash script, comments dropped."""
    m = re.search(rf"^{name}=\((.*?)^\)", text, re.M | re.S)
    if not m:
        die(f"scripts/build-qemu.sh has no {name}=( ... ) list")
    return [w for line in m.group(1).splitlines()
            for w in line.split("#")[0].split()]


def our_files(src):
    """Every file this repo lays over the base, as build-qemu.sh does."""
    script = src.read("scripts/build-qemu.sh")
    files = [f for f in bash_array(script, "OWNED") + bash_array(script,
                                                                 "ADDED")
             if src.exists(f)]
    files += [f for f in src.under("tests/qtest") if f not in files]
    return files


def series_entries(src):
    if not src.exists("patches/series"):
        return []
    entries = [l.strip() for l in src.read("patches/series").splitlines()
               if l.strip() and not l.startswith("#")]
    loose = [p for p in src.under("patches")
             if p.endswith(".patch") and p[len("patches/"):] not in entries]
    if loose:
        die(f"{', '.join(loose)}: not in patches/series (add it there or "
            "remove it)")
    return entries


def parse_plan(text):
    """Blocks separated by lines '---': 'subject:', 'rev:', 'files:',
    'patches:' header lines (repeatable, words may be globs), then the
    commit body."""
    commits = []
    for block in text.split("\n---\n"):
        lines = [l for l in block.strip("\n").split("\n")
                 if not l.startswith("#")]
        if not any(lines):
            continue
        c = {"subject": None, "files": [], "patches": [], "body": [],
             "file_pats": [], "patch_pats": [], "folded": [], "rev": None}
        for i, line in enumerate(lines):
            key, _, value = line.partition(":")
            if key == "subject":
                c["subject"] = value.strip()
            elif key == "files":
                c["file_pats"] += value.split()
            elif key == "patches":
                c["patch_pats"] += value.split()
            elif key == "rev":
                c["rev"] = value.strip()
            else:
                c["body"] = lines[i:]
                break
        if not c["subject"] and (c["rev"] or len(c["patch_pats"]) != 1):
            die(f"series-plan: a block has no subject: {lines[:1]}")
        commits.append(c)
    return commits


def assign(commits, items, pats_key, kind):
    """{item: commit} by exact name, then by the first block's glob."""
    owner, problems = {}, []
    for item in items:
        exact = [c for c in commits if item in c[pats_key]]
        if len(exact) > 1:
            problems.append(f"{kind} {item} is named by more than one block")
        if exact:
            owner[item] = exact[0]
            continue
        for c in commits:
            if any(fnmatch.fnmatchcase(item, p) for p in c[pats_key]):
                owner[item] = c
                break
    for c in commits:
        for p in c[pats_key]:
            if not re.search(r"[*?[]", p) and p not in items:
                problems.append(f"{kind} {p} of '{c['subject']}' is not in "
                                "the repo")
    return owner, problems


def patch_header(text):
    """From:, Subject: and body of a patches/ file."""
    head = text.split("\n---\n", 1)[0].split("\n--- a/", 1)[0]
    m = re.search(r"^Subject: (?:\[PATCH[^\]]*\] )?(.*(?:\n .*)*)", head,
                  re.M)
    frm = re.search(r"^From: (.*)$", head, re.M)
    if not m:
        return None
    subject = " ".join(m.group(1).split())
    body = head[m.end():].strip("\n").splitlines()
    body = [l for l in body if not l.startswith("Signed-off-by:")]
    return {"subject": subject, "from": frm.group(1) if frm else AUTHOR,
            "body": "\n".join(body).strip()}


def added_lines(text):
    return "\n".join(l[1:] for l in text.splitlines()
                     if l.startswith("+") and not l.startswith("+++"))


def names_in_build_files(path):
    """How meson.build and friends name a file: 'foo.c'; a test also by
    its stem, 'foo-test'."""
    base = os.path.basename(path)
    if path.startswith("tests/"):
        return [base, os.path.splitext(base)[0]]
    return [base]


def place_unplanned_patches(commits, entries, owner, file_owner, src):
    """Fold or insert every series entry the plan does not name."""
    for i, p in enumerate(entries):
        if p in owner:
            continue
        text = src.read(f"patches/{p}")
        hdr = patch_header(text)
        if not hdr:
            die(f"patches/{p} has no 'Subject:' header")
        plus = added_lines(text)
        named = [c for f, c in file_owner.items()
                 if any(re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])",
                                  plus) for n in names_in_build_files(f))]
        if named:
            c = max(named, key=commits.index)
            c["patch_pats"].append(p)
            c["folded"].append(hdr)
            owner[p] = c
            continue
        c = {"subject": hdr["subject"], "author": hdr["from"],
             "body": hdr["body"].splitlines(), "file_pats": [],
             "patch_pats": [p], "folded": [], "rev": None}
        later = [owner[q] for q in entries[i + 1:] if q in owner]
        commits.insert(commits.index(later[0]) if later else len(commits), c)
        owner[p] = c


def resolve_snapshot(c):
    """The files and patches a rev: block names, as they were at REV."""
    try:
        src = Source(c["rev"])
    except subprocess.CalledProcessError:
        die(f"series-plan: '{c['subject']}': no revision {c['rev']}")
    problems = []
    for kind, items, key in (("file", our_files(src), "file_pats"),
                             ("patch", series_entries(src), "patch_pats")):
        picked = [i for i in items
                  if any(fnmatch.fnmatchcase(i, p) for p in c[key])]
        for p in c[key]:
            if not re.search(r"[*?[]", p) and p not in items:
                problems.append(f"{kind} {p} of '{c['subject']}' is not "
                                f"in revision {c['rev']}")
        c["files" if kind == "file" else "patches"] = picked
    c["src"] = src
    return problems


def resolve(src, plan_text):
    everything = parse_plan(plan_text)
    commits = [c for c in everything if not c["rev"]]
    files, entries = our_files(src), series_entries(src)
    file_owner, problems = assign(commits, files, "file_pats", "file")
    patch_owner, p2 = assign(commits, entries, "patch_pats", "patch")
    problems += p2
    for c in everything:
        if c["rev"]:
            problems += resolve_snapshot(c)
    for f in files:
        if f not in file_owner:
            problems.append(f"file {f} is in no block of scripts/series-plan "
                            "(name it, or match it with a glob)")
    if problems:
        die("series-plan: " + "; ".join(problems))
    place_unplanned_patches(commits, entries, patch_owner, file_owner, src)
    # the snapshot blocks go back between the others, in plan order
    final = iter(commits)
    nxt = next(final, None)
    merged = []
    for c in everything:
        if c["rev"]:
            merged.append(c)
            continue
        while nxt is not None and nxt is not c:
            merged.append(nxt)  # a commit placed by rule before c
            nxt = next(final, None)
        merged.append(c)
        nxt = next(final, None)
    while nxt is not None:
        merged.append(nxt)
        nxt = next(final, None)
    for c in merged:
        if c["rev"]:
            continue
        c["files"] = [f for f in files if file_owner[f] is c]
        c["patches"] = [p for p in entries if patch_owner.get(p) is c]
        if not c["subject"] and c["patches"]:
            # a block that is just one patch takes its From:, Subject:
            # and body
            hdr = patch_header(src.read(f"patches/{c['patches'][0]}"))
            if not hdr:
                die(f"patches/{c['patches'][0]} has no 'Subject:' header")
            c.update(subject=hdr["subject"], author=hdr["from"],
                     body=hdr["body"].splitlines())
    return [c for c in merged if c["files"] or c["patches"]]


def base_repo():
    """A git repo of the pristine base, made once and reused."""
    if not os.path.isdir(os.path.join(BASE_REPO, ".git")):
        print("[patches] making a git repo of the pristine base")
        tmp = BASE_REPO + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(PRISTINE, tmp, symlinks=True)
        subprocess.run(["chmod", "-R", "u+w", tmp], check=True)
        git(tmp, "init", "-q", "-b", "base")
        git(tmp, "config", "core.autocrlf", "false")
        # No background gc: check-series.sh clones this repo right after
        # our commits, and a detached "gc --auto" packing loose objects
        # under a local clone makes it fail ("failed to copy file").
        git(tmp, "config", "gc.auto", "0")
        git(tmp, "add", "-A", "-f")
        version = open(os.path.join(PRISTINE, ".vnvdimm-base")).read().strip()
        git(tmp, "commit", "-q", "-m", f"Base: Debian source package {version}")
        git(tmp, "tag", "pristine")
        os.rename(tmp, BASE_REPO)
    return BASE_REPO


def commit_message(c):
    parts = [c["subject"], "\n".join(c["body"]).strip()]
    for f in c["folded"]:
        parts.append(f"{f['subject']}:\n{f['body']}")
    parts.append(f"Signed-off-by: {AUTHOR}")
    return "\n\n".join(p for p in parts if p) + "\n"


def commit_step(repo, c, src, applied):
    lay_out(repo, c["files"], c["patches"], c.get("src", src),
            f"'{c['subject']}'", applied)
    git(repo, "add", "-A", "-f")
    if not git(repo, "status", "--porcelain", capture=True).strip():
        # all of it came in with earlier snapshot steps
        print(f"[patches] '{c['subject']}' changes nothing; left out",
              file=sys.stderr)
        return
    author = c.get("author", AUTHOR)
    name, _, mail = author.partition(" <")
    git(repo, "commit", "-q", "--allow-empty", "-m", commit_message(c),
        env={"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": mail.rstrip(">")})


def run_patch(repo, text, p, what, reverse=False):
    r = subprocess.run(["patch", "-d", repo, "-p1", "-s", "-f",
                        "--no-backup-if-mismatch"]
                       + (["-R", "-E"] if reverse else []),
                       input=text, capture_output=True)
    if r.returncode:
        die(f"patches/{p} does not {'reverse' if reverse else 'apply'} "
            f"in {what}:\n" + r.stdout.decode() + r.stderr.decode())


def lay_out(repo, files, patches, src, what, applied=None):
    """Our files over the tree, then patches/ entries with patch(1), as
    scripts/build-qemu.sh stages its trees.  APPLIED maps each patch
    already in the tree, by patch_key(), to the text it was applied with:
    the same text is not applied again, another one replaces it."""
    applied = {} if applied is None else applied
    for f in files:
        dst = os.path.join(repo, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as out:
            out.write(src.read_bytes(f))
    for p in patches:
        text = src.read_bytes(f"patches/{p}")
        key = patch_key(p)
        if applied.get(key) == text:
            continue
        if key in applied:
            replace_patch(repo, applied, key, text, what)
        else:
            run_patch(repo, text, p, what)
            applied[key] = text


def patch_key(name):
    """A patch's name without its number, which changes when patches/ is
    renumbered: a snapshot of an older revision names the same patch
    with its number of then."""
    return re.sub(r"^[0-9]{4}-", "", name)


def replace_patch(repo, applied, p, text, what):
    """Give the applied patch P the text TEXT as quilt would: pop the
    patches applied after it, which may build on what P added, swap P,
    and push them again."""
    later = list(applied)[list(applied).index(p) + 1:]
    for q in reversed(later):
        run_patch(repo, applied[q], q, what, reverse=True)
    run_patch(repo, applied[p], p, what, reverse=True)
    run_patch(repo, text, p, what)
    applied[p] = text
    for q in later:
        run_patch(repo, applied[q], q, what)


def check_same_as_build(repo, src):
    """The whole series must give the tree scripts/build-qemu.sh builds
    and the tests test (the plan may apply patches/ in another order)."""
    git(repo, "checkout", "-q", "-f", "--detach", "pristine")
    git(repo, "clean", "-q", "-fdx")
    lay_out(repo, our_files(src), series_entries(src), src,
            "patches/series order")
    git(repo, "add", "-A", "-f")
    staged = git(repo, "write-tree", capture=True).strip()
    git(repo, "checkout", "-q", "-f", "series")
    git(repo, "clean", "-q", "-fdx")
    series = git(repo, "rev-parse", "series^{tree}", capture=True).strip()
    if staged != series:
        diff = git(repo, "diff", "--stat", staged, series, capture=True)
        die("the series does not end in the tree that build-qemu.sh "
            f"stages (patches/ applied in another order?):\n{diff}")


def check_spdx(repo):
    new = git(repo, "diff", "--name-only", "--diff-filter=A",
              "pristine..series", capture=True).split()
    missing = [f for f in new
               if b"SPDX-License-Identifier"
               not in open(os.path.join(repo, f), "rb").read(2048)]
    if missing:
        die(f"new files without an SPDX-License-Identifier line: {missing}")


def write_cover_letter(src):
    cover = os.path.join(OUT, "0000-cover-letter.patch")
    text = open(cover).read()
    subject, _, blurb = src.read("scripts/cover-letter.txt").partition("\n\n")
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    open(cover, "w").write(text)


def make_series(src, commits):
    repo = base_repo()
    git(repo, "checkout", "-q", "-f", "-B", "series", "pristine")
    git(repo, "clean", "-q", "-fdx")
    applied = {}
    for c in commits:
        commit_step(repo, c, src, applied)
    check_same_as_build(repo, src)
    check_spdx(repo)
    shutil.rmtree(OUT, ignore_errors=True)
    # -B: a file we replace reads as a rewrite, not as a patchwork of
    # coincidental common lines.
    git(repo, "format-patch", "-q", "--cover-letter", "--no-signature",
        "--break-rewrites", "--zero-commit", "-o", OUT, "pristine..series")
    write_cover_letter(src)
    return sorted(os.listdir(OUT))


def lock_build_series():
    """One writer of build/series and build/patches at a time;
    check-series.sh holds the lock for the whole check and says so."""
    if os.environ.get("VNV_SERIES_LOCKED"):
        return None
    os.makedirs(os.path.dirname(BASE_REPO), exist_ok=True)
    f = open(os.path.join(os.path.dirname(BASE_REPO), ".lock"), "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", help="take our files from this commit")
    ap.add_argument("--list", action="store_true",
                    help="only show the commits and what each carries")
    args = ap.parse_args()
    src = Source(args.rev)
    commits = resolve(src, src.read("scripts/series-plan"))
    if args.list:
        for k, c in enumerate(commits, 1):
            rev = f"  [at {c['rev']}]" if c["rev"] else ""
            print(f"{k:2} {c['subject']}{rev}")
            for x in c["files"] + [f"patches/{p}" for p in c["patches"]]:
                print(f"     {x}")
        return
    lock = lock_build_series()  # noqa: F841 (held until exit)
    for p in make_series(src, commits):
        n = sum(1 for _ in open(os.path.join(OUT, p)))
        print(f"{p}  ({n} lines)")


if __name__ == "__main__":
    main()
