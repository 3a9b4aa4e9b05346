#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turn this repo into a git-format-patch series against the pristine base.

    make-patches.py              write build/patches/0000-cover-letter.patch ...
    make-patches.py --check-am   also apply the series with git am to a fresh
                                 repo of the base

The commits, their messages and which of our files and patches/ entries
each one carries are in scripts/series-plan.  Every file this repo lays
over the base, and every entry of patches/series, must be named there
exactly once, so the series is always the whole patch set.
"""

import argparse
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
PRISTINE = os.path.join(BUILD, "pristine")
BASE_REPO = os.path.join(BUILD, "series", "base")
OUT = os.path.join(BUILD, "patches")
PLAN = os.path.join(TOP, "scripts", "series-plan")
COVER = os.path.join(TOP, "scripts", "cover-letter.txt")
AUTHOR = "vNVDIMM developers <vnvdimm@example.invalid>"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "vNVDIMM developers",
    "GIT_AUTHOR_EMAIL": "vnvdimm@example.invalid",
    "GIT_COMMITTER_NAME": "vNVDIMM developers",
    "GIT_COMMITTER_EMAIL": "vnvdimm@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def git(repo, *args, capture=False):
    env = dict(os.environ, **GIT_ENV)
    r = subprocess.run(["git", "-C", repo, *args], env=env, check=True,
                       text=True, capture_output=capture)
    return r.stdout if capture else None


def parse_plan(path):
    """Blocks separated by lines '---': 'subject:', 'files:', 'patches:'
    header lines, then the commit body."""
    commits = []
    for block in open(path).read().split("\n---\n"):
        lines = [l for l in block.strip("\n").split("\n")
                 if not l.startswith("#")]
        if not any(lines):
            continue
        c = {"subject": None, "files": [], "patches": [], "body": []}
        for i, line in enumerate(lines):
            key, _, value = line.partition(":")
            if key in ("subject", "files", "patches") and not c["body"]:
                if key == "subject":
                    c["subject"] = value.strip()
                else:
                    c[key] = value.split()
                continue
            c["body"] = lines[i:]
            break
        if not c["subject"]:
            sys.exit(f"series-plan: a block has no subject: {lines[:1]}")
        commits.append(c)
    return commits


def repo_overlay_files():
    owned = ["hw/mem/nvdimm.c", "hw/acpi/nvdimm.c", "include/hw/mem/nvdimm.h",
             "backends/hostmem-file.c", "docs/nvdimm.txt",
             # added files, not in the base
             "include/hw/mem/nvdimm-persistence.h",
             "hw/mem/nvdimm-persistence.c",
             "hw/mem/nvdimm-persistence-stub.c"]
    files = [f for f in owned if os.path.exists(os.path.join(TOP, f))]
    qtest = os.path.join(TOP, "tests", "qtest")
    for name in sorted(os.listdir(qtest)) if os.path.isdir(qtest) else []:
        files.append(os.path.join("tests", "qtest", name))
    return files


def patch_entries():
    series = os.path.join(TOP, "patches", "series")
    if not os.path.exists(series):
        return []
    return [l.strip() for l in open(series)
            if l.strip() and not l.startswith("#")]


def check_plan_covers_everything(commits):
    named_files = [f for c in commits for f in c["files"]]
    named_patches = [p for c in commits for p in c["patches"]]
    problems = []
    for kind, named, actual in (("file", named_files, repo_overlay_files()),
                                ("patch", named_patches, patch_entries())):
        for x in sorted(set(actual) - set(named)):
            problems.append(f"{kind} {x} is in no commit of the plan")
        for x in sorted(set(named) - set(actual)):
            problems.append(f"{kind} {x} is in the plan but not in the repo")
        for x in sorted({x for x in named if named.count(x) > 1}):
            problems.append(f"{kind} {x} is in more than one commit")
    if named_patches != [p for p in patch_entries() if p in named_patches]:
        problems.append("the plan must keep the order of patches/series")
    if problems:
        sys.exit("series-plan: " + "; ".join(problems))


def base_repo():
    """A git repo of the pristine base, made once and reused."""
    if not os.path.isdir(os.path.join(BASE_REPO, ".git")):
        print("[patches] making a git repo of the pristine base")
        tmp = BASE_REPO + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(PRISTINE, tmp, symlinks=True)
        subprocess.run(["chmod", "-R", "u+w", tmp], check=True)
        git(tmp, "init", "-q", "-b", "base")
        git(tmp, "add", "-A")
        version = open(os.path.join(PRISTINE, ".vnvdimm-base")).read().strip()
        git(tmp, "commit", "-q", "-m", f"Base: Debian source package {version}")
        git(tmp, "tag", "pristine")
        os.rename(tmp, BASE_REPO)
    return BASE_REPO


def commit_step(repo, c):
    for f in c["files"]:
        dst = os.path.join(repo, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(TOP, f), dst)
    for p in c["patches"]:
        git(repo, "apply", "--whitespace=nowarn",
            os.path.join(TOP, "patches", p))
    git(repo, "add", "-A")
    body = "\n".join(c["body"]).strip()
    msg = f"{c['subject']}\n\n{body}\n\nSigned-off-by: {AUTHOR}\n"
    git(repo, "commit", "-q", "-m", msg)


def write_cover_letter():
    cover = os.path.join(OUT, "0000-cover-letter.patch")
    text = open(cover).read()
    subject, _, blurb = open(COVER).read().partition("\n\n")
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    open(cover, "w").write(text)


def make_series():
    commits = parse_plan(PLAN)
    check_plan_covers_everything(commits)
    repo = base_repo()
    git(repo, "checkout", "-q", "-f", "-B", "series", "pristine")
    git(repo, "clean", "-q", "-fdx")
    for c in commits:
        commit_step(repo, c)
    shutil.rmtree(OUT, ignore_errors=True)
    git(repo, "format-patch", "-q", "--cover-letter", "--no-signature",
        "-o", OUT, "pristine..series")
    write_cover_letter()
    return sorted(os.listdir(OUT))


def check_git_am(patches):
    """git am of the whole series onto a fresh clone of the base."""
    dst = os.path.join(BUILD, "series", "am")
    shutil.rmtree(dst, ignore_errors=True)
    git(BASE_REPO, "worktree", "prune")
    subprocess.run(["git", "clone", "-q", "-b", "base", BASE_REPO, dst],
                   check=True)
    files = [os.path.join(OUT, p) for p in patches if not p.startswith("0000")]
    git(dst, "am", "-q", *files)
    print(f"[patches] git am applied {len(files)} patches onto the base")
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-am", action="store_true")
    args = ap.parse_args()
    patches = make_series()
    for p in patches:
        n = sum(1 for _ in open(os.path.join(OUT, p)))
        print(f"{p}  ({n} lines)")
    if args.check_am:
        check_git_am(patches)


if __name__ == "__main__":
    main()
