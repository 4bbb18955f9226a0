#!/usr/bin/env bash
# Installs the Debian packages the integration tests start for real: Dovecot (IMAP, and LMTP
# for the receiving chain), PostgreSQL, Postfix and rspamd (the receiving chain: MX, milter
# verifier, spam filter's HTTP API), Tesseract OCR with Vietnamese, antiword (.doc), poppler
# (PDF rasterising), openssl (test certificates, DKIM keys), DejaVu fonts (Vietnamese glyphs in
# generated PDFs), Chromium and its WebDriver (the web board's real-browser tests).
set -euo pipefail
pkgs=(dovecot-imapd dovecot-lmtpd postgresql postfix rspamd tesseract-ocr tesseract-ocr-vie antiword poppler-utils
      openssl fonts-dejavu-core chromium chromium-driver)
# The packages' own services are not used: the tests start private instances on free loopback ports.
services=(dovecot postgresql postfix rspamd)
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
# Postfix asks what kind of mail server this is; the tests write their own main.cf, so: none.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
for s in "${services[@]}"; do
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
  else
    $SUDO service "$s" stop >/dev/null 2>&1 || true
  fi
done
