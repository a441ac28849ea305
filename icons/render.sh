#!/usr/bin/env bash
# Renders the SVG sources in icons/ into the PNGs the app embeds (src-tauri/icons/): the window
# icon at 32/128/512 px and one 32 px tray icon per state. Needs ImageMagick with the rsvg
# delegate (apt: imagemagick librsvg2-bin) or rsvg-convert.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../src-tauri/icons"
mkdir -p "$out"
render() { # svg size png
  if command -v rsvg-convert >/dev/null; then
    rsvg-convert -w "$2" -h "$2" "$1" -o "$3"
  else
    convert -background none -density 384 "$1" -resize "$2x$2" "PNG32:$3"
  fi
}
render "$here/app.svg" 32 "$out/32x32.png"
render "$here/app.svg" 128 "$out/128x128.png"
render "$here/app.svg" 512 "$out/icon.png"
for s in disconnected connecting connected stale error; do
  render "$here/tray-$s.svg" 32 "$out/tray-$s.png"
done
