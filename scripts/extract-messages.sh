#!/usr/bin/env bash
# Collects the review web app's translatable strings into src/himaya/web/locale/messages.pot and merges
# them into every language's catalog (today: ar), keeping the translations already made.
#
#   scripts/extract-messages.sh              extract, then update (or create) each catalog
#   scripts/extract-messages.sh --pot FILE   only write the template to FILE (tests/web/test_i18n.py
#                                            uses this to tell whether messages.pot is stale)
#
# What is read, and how, is in babel.cfg. New or changed strings come out untranslated or "fuzzy" (a
# guess from a similar old string); tests/web/test_i18n.py fails until a translator has filled or
# reviewed each one. Strings no longer in the sources are dropped from the catalogs: git keeps them.
set -euo pipefail

pot_only=""
case "${1:-}" in
  "") ;;
  --pot) pot_only=${2:?"--pot needs a file name"}; [[ $pot_only = /* ]] || pot_only=$PWD/$pot_only ;;
  *) echo "usage: $0 [--pot FILE]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# English is the source language and has no catalog.
LANGUAGES=(ar)
web=src/himaya/web
locale_dir=$web/locale
pot=${pot_only:-$locale_dir/messages.pot}

pybabel=${PYBABEL:-}
if [ -z "$pybabel" ]; then
  if [ -x .venv/bin/pybabel ]; then pybabel=.venv/bin/pybabel; else pybabel=pybabel; fi
fi
command -v "$pybabel" >/dev/null || {
  echo "error: pybabel not found; run 'make setup' (or set PYBABEL to Babel's pybabel)" >&2
  exit 1
}

mkdir -p "$(dirname "$pot")"
# File names without line numbers: enough for a translator to find the string, and a catalog does not
# change each time a line is added above one. "Translators:" comments (# in code, {# #} in templates)
# go to the translator, without the tag.
"$pybabel" --quiet extract -F babel.cfg -o "$pot" \
  --add-location=file --add-comments=Translators: --strip-comments \
  --project=Himaya --copyright-holder="Himaya contributors" \
  "$web"
[ -n "$pot_only" ] && exit 0

for lang in "${LANGUAGES[@]}"; do
  if [ -f "$locale_dir/$lang/LC_MESSAGES/messages.po" ]; then
    # --previous keeps the old English beside a fuzzy guess, so the translator sees what changed.
    "$pybabel" --quiet update -i "$pot" -d "$locale_dir" -D messages -l "$lang" \
      --ignore-obsolete --previous
  else
    "$pybabel" --quiet init -i "$pot" -d "$locale_dir" -D messages -l "$lang"
  fi
done
echo "updated $pot and the catalogs of: ${LANGUAGES[*]}; translate what is new (tests/web/test_i18n.py lists it)"
