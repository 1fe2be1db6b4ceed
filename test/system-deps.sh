#!/usr/bin/env bash
# The suite's real peers come from Debian: Ceph RGW 16 (what Linode runs), boto3 as a real
# SigV2/SigV4 client, the AWS CLI, openssl for the HTTPS listener's test certificate, chromium for the
# browser CORS test (driven by playwright-core, no browser download). Installed once,
# when missing, if we are root; otherwise say exactly what to install.
set -euo pipefail
missing=()
command -v radosgw >/dev/null 2>&1 || missing+=(ceph-mon ceph-osd ceph-common radosgw)
/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The README's AWS CLI line is run as written by the quick-start test.
command -v aws >/dev/null 2>&1 || missing+=(awscli)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The README's s3cmd and rclone recipes are run as written.
command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
# minio-go 7 (GOPATH mode), whose streaming upload completes with a composite checksum header.
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/minio/minio-go ] || missing+=(golang-github-minio-minio-go-v7-dev)
# Prometheus and promtool, which parse the metrics exposition and evaluate the Grafana dashboard's
# queries (test/metrics/); the tests start their own, never the packaged service.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# libs3's `s3` tool, which reads answer header names byte for byte (ETag, Content-Length).
command -v s3 >/dev/null 2>&1 || missing+=(libs3-2)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test/system-deps.sh: missing Debian packages: ${missing[*]}" >&2
  echo "  install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "test/system-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
