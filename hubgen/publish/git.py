"""``git:PATH[#branch]``: commit a hub to a branch (default ``gh-pages``) ready for GitHub Pages.

Works with git plumbing and a temporary index, never a checkout: the branch's tree is read, only
files whose git blob differs are hashed into the object store, one commit is written on top of the
branch, and then the branch moves — with ``git update-ref OLD`` for a local repository, with
``git push`` otherwise (a remote URL is first cloned bare into a temporary folder). An interrupted
publish leaves the branch where it was. ``.nojekyll`` is always in the tree; nothing is deleted.
The commit's dates are ``SOURCE_DATE_EPOCH`` when set; the author is git's own setting, or
``hubgen`` when none is configured.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from dchub_client import constants
from dchub_client.format import layout
from dchub_client.humanize import counted
from hubgen.errors import PublishError, TargetError
from hubgen.publish.plan import BLOB, HubFile, LocalHub, PublishPlan

logger = logging.getLogger(__name__)

DEFAULT_BRANCH = "gh-pages"


def parse_git_target(spec: str) -> tuple[str, str]:
    """``git:PATH#branch`` → ``(PATH, branch)`` (branch defaults to ``gh-pages``).

    Raises:
        PublishError: no path, or an invalid branch name.
    """
    location, _, branch = spec.removeprefix("git:").partition("#")
    branch = branch or DEFAULT_BRANCH
    if not location:
        raise PublishError(f"{spec!r}: no repository; use git:PATH[#branch]")
    if subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True).returncode:
        raise PublishError(f"{spec!r}: invalid branch name {branch!r}")
    return location, branch


class GitTarget:
    """Publishes to a branch of a git repository; see the module docstring."""

    def __init__(self, spec: str) -> None:
        if shutil.which("git") is None:
            raise PublishError(f"{spec}: the git command is not installed")
        self.description = spec
        self.location, self.branch = parse_git_target(spec)
        self.ref = f"refs/heads/{self.branch}"
        self._scratch = Path(tempfile.mkdtemp(prefix="hubgen-git-"))
        self.git_dir, self.remote = self._open_repo()
        self.old = self._rev_parse(self.ref)
        self._tree = self._ls_tree(self.old) if self.old else {}
        self._format = self._git("rev-parse", "--show-object-format").strip() or "sha1"
        self._added: dict[str, str] = {}

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_scratch", ""), ignore_errors=True)

    # --- the Target protocol -------------------------------------------------------------

    def read_index(self) -> bytes | None:
        """``index.json`` at the branch tip, or None."""
        entry = self._tree.get(layout.INDEX_FILE)
        return self._git("cat-file", "blob", entry[0], text=False) if entry else None

    def plan(self, hub: LocalHub) -> PublishPlan:
        """Files whose git blob at the branch tip is absent or different."""
        return PublishPlan.of(hub.files, self._needs)

    def send(self, kind: str, files: list[HubFile]) -> None:
        """Write the files' blobs into the object store (the branch does not move yet)."""
        paths = "".join(f"{item.path}\n" for item in files)
        ids = self._git("hash-object", "-w", "--no-filters", "--stdin-paths", input=paths).split()
        if len(ids) != len(files):
            raise TargetError(f"{self.description}: git hash-object returned {len(ids)} ids for {len(files)} files")
        self._added.update((item.rel, blob_id) for item, blob_id in zip(files, ids))

    def finish(self, hub: LocalHub, plan: PublishPlan) -> list[str]:
        """Write one commit with the new files and move the branch to it (nothing if the tree is unchanged)."""
        try:
            if layout.NOJEKYLL not in self._tree and layout.NOJEKYLL not in self._added:
                self._added[layout.NOJEKYLL] = self._git("hash-object", "-w", "--stdin", input="").strip()
            if not self._added:
                return [f"{self.description}: branch {self.branch} already holds this hub; nothing committed"]
            commit = self._commit(self._write_tree(), hub)
            self._move_branch(commit)
            files = counted(len(self._added), "file")
            return [f"{self.description}: committed {commit[:12]} on {self.branch} ({files}); "
                    "for GitHub Pages, serve this branch from its root"]
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # --- reading -------------------------------------------------------------------------

    def _open_repo(self) -> tuple[Path, str | None]:
        """The git dir to write objects into, and the URL to push to (None: update the ref in place)."""
        path = Path(self.location).expanduser()
        if path.is_dir():
            out = subprocess.run(["git", "-C", str(path), "rev-parse", "--absolute-git-dir"], capture_output=True,
                                 text=True)
            if out.returncode:
                raise PublishError(f"{self.description}: {path} is not a git repository ({out.stderr.strip()}); "
                                   f"create one with: git init --bare {path}")
            git_dir = Path(out.stdout.strip())
            self._refuse_checked_out(path, git_dir)
            return git_dir, None
        scratch = self._scratch / "repo.git"
        self._run(["git", "init", "-q", "--bare", str(scratch)])
        fetch = subprocess.run(["git", "--git-dir", str(scratch), "fetch", "-q", "--no-tags", self.location,
                                f"+{self.ref}:{self.ref}"], capture_output=True, text=True)
        if fetch.returncode and "couldn't find remote ref" not in fetch.stderr:
            raise TargetError(f"{self.description}: cannot fetch {self.branch}: {fetch.stderr.strip()}")
        return scratch, self.location

    def _refuse_checked_out(self, path: Path, git_dir: Path) -> None:
        bare = self._run(["git", "--git-dir", str(git_dir), "rev-parse", "--is-bare-repository"]).strip()
        head = subprocess.run(["git", "--git-dir", str(git_dir), "symbolic-ref", "-q", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        if bare != "true" and head == self.ref:
            raise PublishError(f"{self.description}: {self.branch} is checked out in {path}; publish to a bare "
                               "repository or to another branch")

    def _rev_parse(self, ref: str) -> str | None:
        out = subprocess.run(["git", "--git-dir", str(self.git_dir), "rev-parse", "-q", "--verify",
                              f"{ref}^{{commit}}"], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def _ls_tree(self, commit: str) -> dict[str, tuple[str, int]]:
        out = self._git("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
        tree = {}
        for record in filter(None, out.split("\0")):
            meta, path = record.split("\t", 1)
            _mode, kind, blob_id, size = meta.split()
            if kind == "blob":
                tree[path] = (blob_id, int(size))
        return tree

    def _needs(self, item: HubFile) -> bool:
        have = self._tree.get(item.rel)
        if have is None or have[1] != item.size:
            return True
        return item.kind != BLOB and have[0] != _git_blob_id(item.path, self._format)

    # --- writing -------------------------------------------------------------------------

    def _write_tree(self) -> str:
        env = {"GIT_INDEX_FILE": str(self._scratch / "index")}
        if self.old:
            self._git("read-tree", self.old, env=env)
        else:
            self._git("read-tree", "--empty", env=env)
        info = "".join(f"100644 {blob_id}\t{rel}\0" for rel, blob_id in sorted(self._added.items()))
        self._git("update-index", "--add", "-z", "--index-info", input=info, env=env)
        return self._git("write-tree", env=env).strip()

    def _commit(self, tree: str, hub: LocalHub) -> str:
        args = ["commit-tree", tree, "-m", f"hubgen publish {hub.index.name} ({hub.index.generated})"]
        if self.old:
            args[2:2] = ["-p", self.old]
        env = {}
        epoch = constants.source_date_epoch()
        if epoch is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{epoch} +0000"
        return self._git(*self._identity(), *args, env=env).strip()

    def _identity(self) -> list[str]:
        configured = subprocess.run(["git", "--git-dir", str(self.git_dir), "config", "user.email"],
                                    capture_output=True, text=True).stdout.strip()
        return [] if configured else ["-c", "user.name=hubgen", "-c", "user.email=hubgen@localhost"]

    def _move_branch(self, commit: str) -> None:
        if self.remote is None:
            self._git("update-ref", "-m", "hubgen publish", self.ref, commit, self.old or "0" * 40)
        else:
            self._run(["git", "--git-dir", str(self.git_dir), "push", "-q", self.remote, f"{commit}:{self.ref}"])
        logger.info("%s: %s -> %s", self.description, self.branch, commit[:12])

    # --- running git ---------------------------------------------------------------------

    def _git(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
             text: bool = True) -> str | bytes:  # type: ignore[return]
        return self._run(["git", "--git-dir", str(self.git_dir), *args], input=input, env=env, text=text)

    def _run(self, cmd: list[str], *, input: str | None = None, env: dict[str, str] | None = None,
             text: bool = True) -> str | bytes:  # type: ignore[return]
        full_env = {**os.environ, **env} if env else None
        data = input.encode() if input is not None else None
        out = subprocess.run(cmd, input=data, capture_output=True, env=full_env)
        if out.returncode:
            hidden = (str(getattr(self, "git_dir", "")), "--git-dir")
            what = " ".join(a for a in cmd if a not in hidden and "\n" not in a)[:120]
            raise TargetError(f"{self.description}: {what} failed: "
                              f"{out.stderr.decode(errors='replace').strip()}")
        return out.stdout.decode() if text else out.stdout


def _git_blob_id(path: Path, object_format: str) -> str:
    """git's id of a file's content: hash of ``blob <size>\\0`` + bytes."""
    data = path.read_bytes()
    digest = hashlib.new("sha256" if object_format == "sha256" else "sha1")
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


__all__ = ["DEFAULT_BRANCH", "GitTarget", "parse_git_target"]
