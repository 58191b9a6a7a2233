"""``s3://bucket/prefix``: publish a hub to an S3 (or S3-compatible) bucket with boto3.

The bucket is listed once; a blob (content-addressed) is sent when its key is absent or has another
size, any other file when its key is absent or holds other bytes (the ETag is the MD5 of a
single-part upload; when it is not, the ``x-amz-meta-sha256`` metadata every upload carries
decides). Blobs go up in parallel; every object gets a ``Content-Type`` and ``Cache-Control``.

Readers fetch anonymously. After publishing, an anonymous GET of ``index.json`` checks that they
can, from the endpoint the uploads went to (``--endpoint-url``, else boto3's own: ``AWS_ENDPOINT_URL``,
its config file, else AWS) or ``public_url``; ``public_read`` first adds a bucket-policy statement
granting ``s3:GetObject`` on the prefix. Credentials come from boto3's usual chain.
"""
from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dchub_client import constants
from dchub_client.format import layout
from dchub_client.format.hashing import CHUNK_SIZE, sha256_bytes
from hubgen.errors import PublishError, TargetError
from hubgen.publish.plan import BLOB, HubFile, LocalHub, PublishPlan

logger = logging.getLogger(__name__)

_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


@dataclass(frozen=True)
class _Remote:
    size: int
    etag: str


def parse_s3_url(spec: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → ``("bucket", "some/prefix")``.

    Raises:
        PublishError: no bucket name.
    """
    parsed = urllib.parse.urlparse(spec)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise PublishError(f"{spec!r}: not an S3 target; use s3://bucket/prefix")
    return parsed.netloc, parsed.path.strip("/")


class S3Target:
    """Publishes to ``s3://bucket/prefix``; see the module docstring."""

    def __init__(self, spec: str, *, workers: int = 8, endpoint_url: str | None = None, public_read: bool = False,
                 public_url: str | None = None, check_public: bool = True) -> None:
        self.bucket, self.prefix = parse_s3_url(spec)
        self.description = spec
        self.workers = max(1, workers)
        self.endpoint_url = endpoint_url
        self.public_read = public_read
        self.check_public = check_public
        self._public_url = public_url
        self.public_ok: bool | None = None
        self._client = _make_client(endpoint_url)
        self._listing: dict[str, _Remote] | None = None

    def key(self, rel: str) -> str:
        """The object key of a hub file."""
        return f"{self.prefix}/{rel}" if self.prefix else rel

    @property
    def public_url(self) -> str:
        """The hub's root URL for anonymous readers (ends with ``/``)."""
        if self._public_url:
            return self._public_url if self._public_url.endswith("/") else self._public_url + "/"
        tail = f"{self.prefix}/" if self.prefix else ""
        endpoint = self.endpoint_url or self._client.meta.endpoint_url  # boto3's own: AWS_ENDPOINT_URL, config...
        if self.endpoint_url or not _is_aws(endpoint):  # the host the uploads went to, never another
            return f"{endpoint.rstrip('/')}/{self.bucket}/{tail}"
        region = self._region()
        if "." in self.bucket:  # virtual-hosted URLs break TLS for dotted bucket names
            return f"https://s3.{region}.amazonaws.com/{self.bucket}/{tail}"
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{tail}"

    # --- the Target protocol -------------------------------------------------------------

    def read_index(self) -> bytes | None:
        """The bucket's ``index.json`` under the prefix, or None."""
        try:
            response = self._call("get_object", Bucket=self.bucket, Key=self.key(layout.INDEX_FILE))
        except _Absent:
            return None
        return response["Body"].read()

    def plan(self, hub: LocalHub) -> PublishPlan:
        """Compare the hub with one listing of the bucket (plus a HEAD per ambiguous ETag)."""
        listing = self._list()
        return PublishPlan.of(hub.files, lambda item: self._needs(item, listing.get(item.rel)))

    def send(self, kind: str, files: list[HubFile]) -> None:
        """Upload *files*, in parallel for blobs; return when all are stored."""
        if kind != BLOB or len(files) == 1:
            for item in files:
                self._put(item)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hubgen-s3") as pool:
            for future in [pool.submit(self._put, item) for item in files]:
                future.result()

    def finish(self, hub: LocalHub, plan: PublishPlan) -> list[str]:
        """Grant public read if asked, then check that an anonymous GET of ``index.json`` works."""
        notes = []
        if self.public_read:
            notes.append(self.grant_public_read())
        if self.check_public:
            notes.append(self._check_anonymous(hub))
        return notes

    # --- listing and comparing -----------------------------------------------------------

    def _list(self) -> dict[str, _Remote]:
        if self._listing is None:
            found: dict[str, _Remote] = {}
            start = self.key("")
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
            try:
                for page in pages:
                    for obj in page.get("Contents", ()):
                        found[obj["Key"][len(start):]] = _Remote(obj["Size"], obj["ETag"].strip('"'))
            except Exception as err:  # botocore raises ClientError, EndpointConnectionError, NoCredentialsError...
                raise _target_error(self.description, "list objects", err) from err
            self._listing = found
        return self._listing

    def _needs(self, item: HubFile, remote: _Remote | None) -> bool:
        if remote is None or remote.size != item.size:
            return True
        if item.kind == BLOB:  # content-addressed: the key names the bytes
            return False
        if remote.etag == _md5(item):
            return False
        return self._remote_sha256(item.rel) != item.sha256

    def _remote_sha256(self, rel: str) -> str | None:
        try:
            head = self._call("head_object", Bucket=self.bucket, Key=self.key(rel))
        except _Absent:
            return None
        return head.get("Metadata", {}).get("sha256")

    # --- writing -------------------------------------------------------------------------

    def _put(self, item: HubFile) -> None:
        with open(item.path, "rb") as body:
            self._call("put_object", Bucket=self.bucket, Key=self.key(item.rel), Body=body,
                       ContentType=item.content_type, CacheControl=item.cache_control,
                       Metadata={"sha256": item.sha256})
        logger.debug("uploaded s3://%s/%s (%d bytes)", self.bucket, self.key(item.rel), item.size)

    def grant_public_read(self) -> str:
        """Add (or replace) a bucket-policy statement granting anonymous ``s3:GetObject`` on the prefix.

        Other statements of the bucket policy are kept.

        Raises:
            TargetError: the bucket refused the policy (e.g. Block Public Access forbids public policies).
        """
        resource = f"arn:aws:s3:::{self.bucket}/{self.key('*')}"
        sid = "DchubPublicRead" + hashlib.sha256(self.prefix.encode()).hexdigest()[:12]
        statement = {"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resource}
        policy = self._policy()
        policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") != sid] + [statement]
        try:
            self._client.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))
        except Exception as err:
            raise TargetError(f"s3://{self.bucket}: cannot set a bucket policy granting public s3:GetObject on "
                              f"{resource} ({_describe(err)}); if Block Public Access is on, allow public policies: "
                              f"{_unblock_command(self.bucket)}") from err
        return f"bucket policy of s3://{self.bucket} grants public s3:GetObject on {resource}"

    def _policy(self) -> dict[str, Any]:
        try:
            return json.loads(self._client.get_bucket_policy(Bucket=self.bucket)["Policy"])
        except Exception as err:
            if _code(err) in ("NoSuchBucketPolicy", "404"):
                return {"Version": "2012-10-17", "Statement": []}
            raise _target_error(f"s3://{self.bucket}", "read the bucket policy", err) from err

    # --- the anonymous check -------------------------------------------------------------

    def _check_anonymous(self, hub: LocalHub) -> str:
        import requests

        url = self.public_url + layout.INDEX_FILE
        try:
            response = requests.get(url, timeout=constants.timeout_seconds())
            status, body = response.status_code, response.content
        except requests.RequestException as err:
            status, body = None, b""
            reason = str(err)
        self.public_ok = status == 200 and sha256_bytes(body) == sha256_bytes(hub.index_bytes)
        if self.public_ok:
            return f"readers fetch the hub anonymously from {self.public_url}"
        if status == 200:
            return (f"{url} serves another index.json than the one just published (a CDN cache?); readers may "
                    "see the old hub until it expires")
        reason = f"HTTP {status}" if status is not None else reason
        if self.public_read:
            return (f"{url}: an anonymous GET failed ({reason}) although the bucket policy now grants public "
                    f"s3:GetObject on s3://{self.bucket}/{self.key('*')}, so readers cannot fetch this hub: check "
                    f"that Block Public Access allows public policies ({_unblock_command(self.bucket)}) and that "
                    "the URL is where readers reach the bucket; behind a CDN or another host, pass --public-url")
        return (f"{url}: an anonymous GET failed ({reason}), so readers cannot fetch this hub. New buckets refuse "
                f"anonymous reads: run again with --public-read to add a bucket policy granting s3:GetObject on "
                f"s3://{self.bucket}/{self.key('*')} (Block Public Access must allow public policies: "
                f"{_unblock_command(self.bucket)}), or serve it through a CDN and pass --public-url")

    # --- helpers -------------------------------------------------------------------------

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(**kwargs)
        except Exception as err:
            if _code(err) in _NOT_FOUND:
                raise _Absent(kwargs.get("Key")) from err
            raise _target_error(f"s3://{self.bucket}/{kwargs.get('Key', '')}", method, err) from err

    def _region(self) -> str:
        try:
            location = self._client.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
        except Exception:  # the check URL is then a guess; the check itself reports any failure
            location = None
        return location or self._client.meta.region_name or "us-east-1"


class _Absent(Exception):
    """The object does not exist (internal)."""


def _make_client(endpoint_url: str | None) -> Any:
    try:
        import boto3
    except ImportError as err:
        raise PublishError("publishing to S3 needs boto3: pip install 'dchub[publish]'") from err
    return boto3.client("s3", endpoint_url=endpoint_url)


def _is_aws(endpoint: str) -> bool:
    """Whether *endpoint* is one of AWS's own S3 hosts (where buckets also have virtual-hosted URLs)."""
    host = urllib.parse.urlparse(endpoint).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def _md5(item: HubFile) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(item.path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _code(err: BaseException) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _describe(err: BaseException) -> str:
    code = _code(err)
    return f"{code}: {err}" if code and code not in str(err) else str(err) or type(err).__name__


def _target_error(where: str, action: str, err: BaseException) -> TargetError:
    hint = ""
    if type(err).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        hint = "; configure credentials as for the aws CLI (AWS_PROFILE, ~/.aws/credentials, AWS_ACCESS_KEY_ID, ...)"
    elif _code(err) in ("AccessDenied", "403"):
        hint = "; the credentials in use may not write to this bucket"
    elif _code(err) == "NoSuchBucket":
        hint = "; create the bucket first (aws s3 mb)"
    return TargetError(f"{where}: cannot {action.replace('_', ' ')}: {_describe(err)}{hint}")


def _unblock_command(bucket: str) -> str:
    return (f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false")


__all__ = ["S3Target", "parse_s3_url"]
