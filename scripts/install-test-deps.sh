#!/usr/bin/env bash
# Installs the Debian packages the integration tests start for real: Dovecot (IMAP),
# PostgreSQL, Tesseract OCR with Vietnamese, antiword (.doc), poppler (PDF rasterising),
# openssl (test certificates), DejaVu fonts (Vietnamese glyphs in generated PDFs),
# Chromium and its WebDriver (the web board's real-browser tests).
set -euo pipefail
pkgs=(dovecot-imapd postgresql tesseract-ocr tesseract-ocr-vie antiword poppler-utils openssl fonts-dejavu-core chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packages' own services are not used: the tests start private instances.
$SUDO systemctl disable --now dovecot postgresql >/dev/null 2>&1 || true
